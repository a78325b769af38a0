"""The current-state projection: exactly once, rebuildable, one leader at a time."""

from __future__ import annotations

import threading
import time
from datetime import date
from typing import Any

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError, Tracking

from domain.commands import (
    ApproveReturn,
    AssignOwner,
    OpenCollection,
    OverrideStatus,
    PublishQuarter,
    ReopenReturn,
    ResetBaseline,
    ReviseFigure,
    SendBackReturn,
    SubmitFigure,
    SubmitReturn,
)
from domain.ledger import Ledger, Request
from domain.measure import Measure
from domain.publishing import PublicationFacts
from domain.values import Quarter, Status, parse_amount
from projections.catch_up import catch_up
from projections.current_state import CurrentState
from projections.read_model_tables import TABLES
from projections.rebuild import rebuild
from projections.runner import run_projection
from projections.view import open_view
from tests.integration.given import OFFICER, a_measure, a_plan

LEAD = Request(actor="performance.lead@stockton.gov.uk")


def record_a_year(ledger: Ledger, measures: int = 3) -> None:
    """A plan with a few measures, figures, a revision, a reset and an override, and its Q1 cycle: owners,
    returns (one sent back, one reopened after approval), a collection and a publication."""
    plan_id = a_plan(ledger, "Plan")
    ledger.handle(OpenCollection(plan_id, Quarter.Q1, date(2012, 7, 31)), LEAD)
    for n in range(measures):
        mid = a_measure(ledger, plan_id, f"5.{n + 1}")
        ledger.handle(SubmitFigure(mid, "total", Quarter.Q1, parse_amount("492", None, None)), OFFICER)
        ledger.handle(SubmitFigure(mid, "total", Quarter.Q2, parse_amount("990", None, None)), OFFICER)
        ledger.handle(ReviseFigure(mid, "total", Quarter.Q2, parse_amount("995", None, None), reason="late"), OFFICER)
        ledger.handle(ResetBaseline(mid, "total", parse_amount("1200", None, None), reason="new method"), OFFICER)
        ledger.handle(OverrideStatus(mid, Quarter.Q2, Status.AT_RISK, reason="trend"), OFFICER)
        ledger.handle(AssignOwner(mid, OFFICER.actor, "Cleveland Police"), LEAD)
        ledger.handle(SubmitReturn(mid, Quarter.Q1), OFFICER)
        if n == 0:
            ledger.handle(SendBackReturn(mid, Quarter.Q1, reason="check Q1"), LEAD)
            ledger.handle(SubmitReturn(mid, Quarter.Q1), OFFICER)
        ledger.handle(ApproveReturn(mid, Quarter.Q1), LEAD)
    ledger.handle(PublishQuarter(plan_id, Quarter.Q1, "Board", date(2012, 9, 25), PublicationFacts(None)), LEAD)
    ledger.handle(ReopenReturn(Measure.create_id(plan_id, "5.1"), Quarter.Q1, reason="late crimes"), LEAD)


def snapshot(database_url: str) -> dict[str, list[tuple[Any, ...]]]:
    with psycopg.connect(database_url) as conn:
        # Sorted in Python: rows of one key at several positions have no natural SQL order.
        return {t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in TABLES}  # noqa: S608


def position(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT notification_id FROM current_state_tracking WHERE application_name = 'ledger'")
        found = row.fetchone()
        return int(found[0]) if found else 0


class Crash(Exception):
    pass


class CrashingProjection(CurrentState):
    """Dies after a number of events, like a process killed mid-stream."""

    def __init__(self, *args: Any, after: int) -> None:
        super().__init__(*args)
        self.left = after

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:  # type: ignore[override]
        if self.left == 0:
            raise Crash
        self.left -= 1
        super().process_event(domain_event, tracking)


def test_a_projection_stopped_mid_stream_and_restarted_processes_each_event_exactly_once(
    ledger: Ledger, es_env: dict[str, str], database_url: str
) -> None:
    record_a_year(ledger)
    total = ledger.recorder.max_notification_id()
    view = open_view(es_env)
    live = CrashingProjection(view, ledger, after=11)
    with pytest.raises(Crash):
        # One event per transaction, as the live runner feeds them.
        for notification in ledger.recorder.select_notifications(start=1, limit=100):
            live.process_event(ledger.mapper.to_domain_event(notification), Tracking(ledger.name, notification.id))
    assert position(database_url) == 11
    with pytest.raises(Crash):
        # A batch that dies is not written at all.
        catch_up(ledger, CrashingProjection(open_view(es_env), ledger, after=5))
    assert position(database_url) == 11

    restarted = catch_up(ledger, CurrentState(open_view(es_env), ledger))

    assert restarted == total - 11
    assert position(database_url) == total
    tables = snapshot(database_url)
    assert len(tables["audit_entries"]) == total  # one entry per event, none twice
    assert sorted(row[0] for row in tables["audit_entries"]) == list(range(1, total + 1))
    # Replaying an event already processed is refused and changes nothing.
    first = ledger.mapper.to_domain_event(ledger.recorder.select_notifications(start=1, limit=1)[0])
    with pytest.raises(IntegrityError):
        CurrentState(open_view(es_env), ledger).process_event(first, Tracking(ledger.name, 1))
    assert snapshot(database_url) == tables


def test_rebuilding_reproduces_the_incrementally_maintained_read_model(
    ledger: Ledger, es_env: dict[str, str], database_url: str
) -> None:
    open_view(es_env).datastore.close()
    stop = threading.Event()
    runner = threading.Thread(target=run_projection, args=(es_env, stop))
    runner.start()
    try:
        record_a_year(ledger, measures=4)
        wait_until(lambda: position(database_url) == ledger.recorder.max_notification_id())
    finally:
        stop.set()
        runner.join(10)
    incremental = snapshot(database_url)
    current = [row for row in incremental["measures"] if row[-1] is None]  # valid_to
    assert len(current) == 4

    rebuilt_events = rebuild(es_env)

    assert rebuilt_events == ledger.recorder.max_notification_id()
    assert snapshot(database_url) == incremental


def test_one_process_leads_the_projection_and_another_takes_over_when_it_stops(
    ledger: Ledger, es_env: dict[str, str], database_url: str
) -> None:
    open_view(es_env).datastore.close()  # its tables, before anyone polls them
    first_stop, second_stop = threading.Event(), threading.Event()
    first = threading.Thread(target=run_projection, args=(es_env, first_stop, 0.2))
    first.start()
    wait_until(lambda: leaders(database_url) == 1)
    second = threading.Thread(target=run_projection, args=(es_env, second_stop, 0.2))
    second.start()
    try:
        record_a_year(ledger, measures=1)
        wait_until(lambda: position(database_url) == ledger.recorder.max_notification_id())
        assert leaders(database_url) == 1

        first_stop.set()
        first.join(10)
        record_a_year_more(ledger)

        wait_until(lambda: position(database_url) == ledger.recorder.max_notification_id())
        assert leaders(database_url) == 1
    finally:
        first_stop.set()
        second_stop.set()
        first.join(10)
        second.join(10)


def record_a_year_more(ledger: Ledger) -> None:
    a_plan(ledger, "Plan 2013-14", start_year=2013, theme=("1", "ASB"))


def leaders(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = "
            "(SELECT oid FROM pg_database WHERE datname = current_database())"
        ).fetchone()
        return int(row[0]) if row else 0


def wait_until(condition: Any, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)
