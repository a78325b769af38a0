"""Subscription cursors: opaque, exact, and a VALIDATION error when malformed."""

from __future__ import annotations

import pytest
from graphql import GraphQLError

from service.cursors import ledger_event_cursor, status_change_cursor
from service.schema.cursors import parse_ledger_event_cursor, parse_status_change_cursor


def test_cursors_round_trip() -> None:
    assert parse_status_change_cursor(status_change_cursor((1234, "Q3"))) == (1234, "Q3")
    assert parse_ledger_event_cursor(ledger_event_cursor((98765, ""))) == (98765, "")


@pytest.mark.parametrize(
    "raw", ["", "!!", "MTIzNA", status_change_cursor((1, "Q9")), "OnEx", "LTE6UTE", "wrZRMQ", "MTox" + "A" * 80]
)
def test_a_malformed_status_change_cursor_names_the_argument(raw: str) -> None:
    with pytest.raises(GraphQLError) as failed:
        parse_status_change_cursor(raw)
    assert failed.value.extensions == {"code": "VALIDATION", "field": "after"}
    assert failed.value.message.startswith("after: ")


@pytest.mark.parametrize("raw", ["", "x", status_change_cursor((1, "Q1")), ledger_event_cursor((-1, "")), "wrI"])
def test_a_malformed_ledger_event_cursor_names_the_argument(raw: str) -> None:
    with pytest.raises(GraphQLError) as failed:
        parse_ledger_event_cursor(raw)
    assert failed.value.extensions == {"code": "VALIDATION", "field": "after"}
