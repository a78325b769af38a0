"""Rebuilding beside the served read model: the same read model as a rebuild in place, swapped in whole,
and a rebuild that dies leaves the served one as it was."""

from __future__ import annotations

import psycopg
import pytest

from domain.ledger import Ledger
from projections.beside import SCHEMA, rebuild_beside
from projections.rebuild import rebuild
from projections.runner import catch_up_if_leader
from tests.integration.test_parallel_rebuild import (
    a_ledger_in_both_shares,
    assert_rebuilt_and_released,
    index_names,
    its_index_build_failing,
)
from tests.integration.test_projection import snapshot

pytestmark = pytest.mark.slow  # rebuilds in shares, a process each


def schema_exists(database_url: str) -> bool:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM pg_namespace WHERE nspname = %s", (SCHEMA,)).fetchone()
        return row == (1,)


def test_a_rebuild_beside_makes_exactly_the_read_model_a_rebuild_in_place_makes(
    ledger: Ledger, es_env: dict[str, str], database_url: str
) -> None:
    a_ledger_in_both_shares(ledger)
    last = ledger.recorder.max_notification_id() or 0
    rebuild(es_env, shares=1)
    in_place = snapshot(database_url)
    indexes = index_names(database_url)
    said: list[str] = []

    assert rebuild_beside(es_env, shares=2, say=said.append) == last

    assert snapshot(database_url) == in_place
    assert index_names(database_url) == indexes
    assert_rebuilt_and_released(database_url, last)
    assert not schema_exists(database_url)
    assert said == [
        "building the new read model beside the served one: reads and writes go on meanwhile",
        f"swapped the new read model in at position {last}",
    ]


def test_a_rebuild_beside_that_dies_leaves_the_served_read_model_as_it_was(
    ledger: Ledger, es_env: dict[str, str], database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    a_ledger_in_both_shares(ledger)
    last = ledger.recorder.max_notification_id() or 0
    catch_up_if_leader(es_env)
    served = snapshot(database_url)

    with its_index_build_failing(monkeypatch):
        rebuild_beside(es_env, shares=2)

    assert snapshot(database_url) == served
    assert_rebuilt_and_released(database_url, last)
    assert schema_exists(database_url)  # what it left, until the next rebuild starts afresh

    assert rebuild_beside(es_env, shares=2) == last
    assert snapshot(database_url) == served
    assert not schema_exists(database_url)
