"""The Ledger as the service runs it: a command starts from the aggregate as this process last saw it,
and another process's writes still count.

Two applications on one database stand for two service processes, each with its own cache.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from domain.commands import ReviseFigure, SubmitFigure, UpdateCommentary
from domain.errors import ConflictError, ValidationError
from domain.ledger import Ledger, Request
from domain.values import Quarter, parse_amount
from projections.persistence import ConcurrentLedger
from tests.integration.given import OFFICER, a_measure, a_plan


@pytest.fixture
def other(es_env: dict[str, str]) -> Iterator[Ledger]:
    """A second process's application: its own aggregate cache."""
    app = ConcurrentLedger(env=es_env)
    yield app
    app.close()


def test_a_write_from_a_cache_behind_another_process_lands_on_top_of_it(ledger: Ledger, other: Ledger) -> None:
    mid = a_measure(ledger, a_plan(ledger))
    first = ledger.handle(SubmitFigure(mid, "total", Quarter.Q1, parse_amount("100", None, None)), OFFICER)
    # The other process moves the measure on; this one's cache still holds `first`'s state.
    moved = other.handle(SubmitFigure(mid, "total", Quarter.Q2, parse_amount("200", None, None)), OFFICER)
    written = ledger.handle(SubmitFigure(mid, "total", Quarter.Q3, parse_amount("300", None, None)), OFFICER)
    assert (first.version, moved.version, written.version) == (first.version, first.version + 1, first.version + 2)
    m = ledger.get_measure(mid)
    assert {q for _, q in m.figures} == {Quarter.Q1, Quarter.Q2, Quarter.Q3}


def test_a_refusal_is_decided_on_the_stores_state_not_a_stale_cache(ledger: Ledger, other: Ledger) -> None:
    mid = a_measure(ledger, a_plan(ledger))
    ledger.handle(SubmitFigure(mid, "total", Quarter.Q1, parse_amount("100", None, None)), OFFICER)
    moved = other.handle(SubmitFigure(mid, "total", Quarter.Q2, parse_amount("200", None, None)), OFFICER)
    # Revising Q2 needs the other process's figure, which this cache has not seen.
    revised = ledger.handle(
        ReviseFigure(mid, "total", Quarter.Q2, parse_amount("210", None, None), reason="typo"), OFFICER
    )
    assert revised.version == moved.version + 1
    # The version the client saw, from the other process, is current, not a conflict.
    other_now = other.handle(UpdateCommentary(mid, Quarter.Q1, "from the other process"), OFFICER)
    at = Request(OFFICER.actor, expected_version=other_now.version)
    assert ledger.handle(UpdateCommentary(mid, Quarter.Q1, "seen"), at).version == other_now.version + 1
    # And a real refusal is still given: Q1 is already submitted, as the store says.
    with pytest.raises(ValidationError):
        ledger.handle(SubmitFigure(mid, "total", Quarter.Q1, parse_amount("1", None, None)), OFFICER)
    # A stale expected version is still a conflict, naming the current one.
    with pytest.raises(ConflictError) as refused:
        other.handle(UpdateCommentary(mid, Quarter.Q1, "late"), Request(OFFICER.actor, expected_version=moved.version))
    assert refused.value.current_version == other_now.version + 1


def test_the_services_ledger_and_a_plain_one_are_one_application_on_one_store(
    ledger: Ledger, es_env: dict[str, str]
) -> None:
    mid = a_measure(ledger, a_plan(ledger))
    written = ledger.handle(SubmitFigure(mid, "total", Quarter.Q1, parse_amount("100", None, None)), OFFICER)
    plain = Ledger(env=es_env)
    try:
        assert plain.get_measure(mid).version == written.version
        assert plain.recorder.max_notification_id() == ledger.recorder.max_notification_id()
    finally:
        plain.close()
