"""Tamper evidence: whatever a DBA does to the stored events, `verify` names the first position touched."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from uuid import UUID, uuid4

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError, Tracking

from domain.commands import SubmitFigure
from domain.ledger import Ledger
from domain.values import Quarter, parse_amount
from projections.ledger_store.chain import ChainView, Link, catch_up_chain, open_chain
from projections.ledger_store.event_store import open_ledger
from projections.ledger_store.verify import parse_digest, verify
from projections.rebuild import rebuild
from projections.runner import run_projection
from tests.integration.given import OFFICER, a_measure, a_plan


@pytest.fixture
def ledger(es_env: dict[str, str]) -> Iterator[Ledger]:
    app = open_ledger(es_env)
    yield app
    app.close()


@pytest.fixture
def chain(es_env: dict[str, str]) -> Iterator[ChainView]:
    view = open_chain(es_env)
    yield view
    view.datastore.close()


def record_figures(ledger: Ledger, quarters: int = 4) -> UUID:
    """A plan, a theme, a measure with its baseline and a figure a quarter: 4 + quarters events."""
    measure_id = a_measure(ledger, a_plan(ledger))
    for n, quarter in enumerate(list(Quarter)[:quarters]):
        ledger.handle(SubmitFigure(measure_id, "total", quarter, parse_amount(str(492 * (n + 1)), None, None)), OFFICER)
    return measure_id


def as_dba(database_url: str, *statements: str) -> None:
    """Run statements with the append-only trigger disabled, as an attacker with DBA rights would."""
    with psycopg.connect(database_url) as conn:
        conn.execute("ALTER TABLE ledger_events DISABLE TRIGGER ledger_events_append_only")
        for statement in statements:
            conn.execute(statement)


@pytest.fixture
def linked(ledger: Ledger, chain: ChainView) -> Link:
    """Eight events, all linked; the chain's head."""
    record_figures(ledger)
    catch_up_chain(ledger, chain)
    return chain.head()


def test_an_untouched_store_verifies_and_matches_its_published_digest(linked: Link, database_url: str) -> None:
    verdict = verify(database_url, parse_digest(linked.hex()))

    assert verdict.ok, verdict.report()
    assert (verdict.checked, verdict.head, verdict.digest_ok) == (8, linked, True)


def test_an_altered_figure_is_detected_at_its_position(linked: Link, database_url: str) -> None:
    as_dba(
        database_url,
        "UPDATE ledger_events SET state = convert_to(replace(convert_from(state, 'UTF8'), '\"984\"', '\"900\"'), "
        "'UTF8') WHERE notification_id = 6",
    )

    verdict = verify(database_url)

    assert (verdict.ok, verdict.first_bad) == (False, 6)
    assert "altered" in (verdict.problem or "")


def test_a_deleted_event_is_detected_at_its_position(linked: Link, database_url: str) -> None:
    as_dba(database_url, "DELETE FROM ledger_events WHERE notification_id = 3")

    verdict = verify(database_url)

    assert (verdict.ok, verdict.first_bad) == (False, 3)
    assert "missing" in (verdict.problem or "")


def test_an_event_inserted_into_a_gap_of_the_log_is_detected_at_its_position(
    ledger: Ledger, chain: ChainView, database_url: str
) -> None:
    record_figures(ledger, quarters=1)
    with psycopg.connect(database_url) as conn:
        # Ids have gaps in real logs (a rejected save consumes one): make one at 6..9.
        conn.execute("SELECT setval('ledger_events_notification_id_seq', 9)")
    record_figures(ledger, quarters=1)
    catch_up_chain(ledger, chain)
    as_dba(
        database_url,
        f"INSERT INTO ledger_events (originator_id, originator_version, topic, state, notification_id) "
        f"SELECT '{uuid4()}', 1, topic, state, 7 FROM ledger_events WHERE notification_id = 1",
    )

    verdict = verify(database_url)

    assert (verdict.ok, verdict.first_bad) == (False, 7)
    assert "never chained" in (verdict.problem or "")


def test_two_events_swapped_are_detected_at_the_first_of_them(linked: Link, database_url: str) -> None:
    as_dba(
        database_url,
        "UPDATE ledger_events SET notification_id = -1 WHERE notification_id = 4",
        "UPDATE ledger_events SET notification_id = 4 WHERE notification_id = 6",
        "UPDATE ledger_events SET notification_id = 6 WHERE notification_id = -1",
    )

    verdict = verify(database_url)

    assert (verdict.ok, verdict.first_bad) == (False, 4)


def test_a_store_rewritten_together_with_its_chain_is_caught_by_the_digest_published_before(
    ledger: Ledger, linked: Link, es_env: dict[str, str], database_url: str
) -> None:
    as_dba(
        database_url,
        "UPDATE ledger_events SET state = convert_to(replace(convert_from(state, 'UTF8'), '\"984\"', '\"900\"'), "
        "'UTF8') WHERE notification_id = 6",
        "ALTER TABLE event_chain DISABLE TRIGGER event_chain_append_only",
        "TRUNCATE event_chain",
        "DELETE FROM event_chain_tracking WHERE application_name = 'ledger'",
    )
    relinked = open_chain(es_env)
    catch_up_chain(ledger, relinked)
    relinked.datastore.close()

    assert verify(database_url).ok  # the chain alone cannot tell
    verdict = verify(database_url, linked)
    assert (verdict.ok, verdict.digest_ok) == (False, False)


def test_rebuilding_the_read_model_leaves_the_chain_as_it_was_so_tampering_stays_visible(
    linked: Link, chain: ChainView, es_env: dict[str, str], database_url: str
) -> None:
    as_dba(database_url, "DELETE FROM ledger_events WHERE notification_id = 8")

    rebuild(es_env)

    assert chain.head() == linked
    assert verify(database_url).first_bad == 8


def test_each_position_is_linked_exactly_once(ledger: Ledger, linked: Link, chain: ChainView) -> None:
    with pytest.raises(IntegrityError):
        chain.extend(Tracking(ledger.name, 5))

    assert chain.head() == linked
    assert catch_up_chain(ledger, chain) == 0


def test_the_projection_leader_links_events_as_they_are_stored(
    ledger: Ledger, chain: ChainView, es_env: dict[str, str], database_url: str
) -> None:
    record_figures(ledger, quarters=1)
    stop = threading.Event()
    leader = threading.Thread(target=run_projection, args=(es_env, stop))
    leader.start()
    try:
        record_figures(ledger, quarters=2)
        last = ledger.recorder.max_notification_id()
        deadline = time.monotonic() + 20
        while chain.head().position != last and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        leader.join(20)

    verdict = verify(database_url)
    assert verdict.ok, verdict.report()
    assert (verdict.checked, verdict.unchained, verdict.head) == (last, 0, chain.head())


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE ledger_events SET topic = topic",
        "DELETE FROM ledger_events",
        "TRUNCATE ledger_events",
        "UPDATE event_chain SET hash = hash",
        "DELETE FROM event_chain",
        "TRUNCATE event_chain",
    ],
)
def test_stored_events_and_links_cannot_be_changed_or_removed(
    linked: Link, database_url: str, es_env: dict[str, str], statement: str
) -> None:
    open_ledger(es_env).close()  # installing again changes nothing

    with psycopg.connect(database_url) as conn, pytest.raises(psycopg.errors.RaiseException, match="append-only"):
        conn.execute(statement)

    assert verify(database_url).checked == 8
