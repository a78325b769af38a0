"""Rebuilding the read model in shares, one process each: the same read model as one process makes."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg
import pytest

import projections.rebuild
from domain.commands import SubmitFigure, UpdateCommentary
from domain.ledger import Ledger, Request
from domain.measure import Measure
from domain.plan import Plan
from domain.values import Quarter, parse_amount
from projections.catch_up import Share
from projections.event_reader import EventReader, Page, share_of
from projections.locks import LOCK_KEY, REBUILD_LOCK_KEY
from projections.read_model_tables import TABLES, VERSION
from projections.rebuild import READ_INDEXES, rebuild
from projections.runner import catch_up_if_leader
from projections.view import NAME, REBUILDING, open_view
from tests.integration.given import OFFICER, a_measure, a_plan
from tests.integration.test_projection import position, record_a_year, snapshot

pytestmark = pytest.mark.slow  # rebuilds in shares, a process each


def index_name(statement: str) -> str:
    found = re.search(r"CREATE INDEX IF NOT EXISTS (\w+) ON", statement)
    assert found is not None, statement
    return found.group(1)


READ_INDEX_NAMES = {index_name(statement) for statement in READ_INDEXES}


def a_ledger_in_both_shares(ledger: Ledger) -> None:
    """A year of several measures (figures, revisions, resets, overrides), then a command with an idempotency
    key, whose key's event (one the read model does not show, only tracks) is the last in the store."""
    record_a_year(ledger, measures=4)
    measure_id = Measure.create_id(Plan.create_id("SSP", "Plan"), "5.1")
    with_key = Request(OFFICER.actor, idempotency_key="commentary-1")
    ledger.handle(UpdateCommentary(measure_id, Quarter.Q1, "On track"), with_key)


def stored_aggregates(ledger: Ledger) -> set[UUID]:
    return {UUID(str(n.originator_id)) for n in ledger.recorder.select_notifications(start=1, limit=100_000)}


def stored_positions(ledger: Ledger) -> list[int]:
    """Every event's position (a write retried after a conflict leaves a gap in them)."""
    return [n.id for n in ledger.recorder.select_notifications(start=1, limit=100_000)]


def meta_version(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT version FROM read_model_meta WHERE name = %s", (NAME,)).fetchone()
        assert row is not None
        return int(row[0])


def tracking_rows(database_url: str) -> dict[str, int]:
    """The view's tracking rows, by name (the library's own migration marker left out)."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            f"SELECT application_name, notification_id FROM {NAME}_tracking WHERE application_name <> '__migration__'"
        ).fetchall()
        return {str(name): int(position) for name, position in rows}


def index_names(database_url: str) -> set[str]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()").fetchall()
        return {str(row[0]) for row in rows}


def row_counts(database_url: str) -> dict[str, int]:
    with psycopg.connect(database_url) as conn:
        counts = {}
        for table in TABLES:
            row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()  # noqa: S608
            assert row is not None
            counts[table] = int(row[0])
        return counts


def audit_times(database_url: str) -> list[tuple[int, datetime, datetime]]:
    """(position, recorded_at, known_at) of every audit entry, in position order."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT position, recorded_at, known_at FROM audit_entries ORDER BY position").fetchall()
        return [(int(p), r, k) for p, r, k in rows]


def try_lock(database_url: str, key: int) -> bool:
    """Whether a session of its own can take the advisory lock `key` (released again at once)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
        taken = bool(row and row[0])
        if taken:
            conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
        return taken


def assert_rebuilt_and_released(database_url: str, last: int) -> None:
    """The rebuild's end: the ledger's position, no share's row, the mark lifted, the read indexes back."""
    assert tracking_rows(database_url) == {"ledger": last}
    assert meta_version(database_url) == VERSION
    assert READ_INDEX_NAMES <= index_names(database_url)
    assert try_lock(database_url, LOCK_KEY) and try_lock(database_url, REBUILD_LOCK_KEY)


def test_a_rebuild_in_two_shares_makes_exactly_the_read_model_one_process_makes(
    ledger: Ledger, es_env: dict[str, str], database_url: str
) -> None:
    a_ledger_in_both_shares(ledger)
    last = ledger.recorder.max_notification_id() or 0
    assert {share_of(aggregate, 2) for aggregate in stored_aggregates(ledger)} == {0, 1}
    assert len(READ_INDEX_NAMES) == len(READ_INDEXES) > 0

    assert rebuild(es_env, shares=1) == last
    in_one = snapshot(database_url)
    assert in_one["measures"] and in_one["figures"] and in_one["baselines"] and in_one["status_changes"]
    assert_rebuilt_and_released(database_url, last)

    assert rebuild(es_env, shares=2) == last

    assert snapshot(database_url) == in_one
    assert position(database_url) == last
    assert_rebuilt_and_released(database_url, last)


def two_measures_in_different_shares(ledger: Ledger) -> tuple[UUID, UUID]:
    plan_id = a_plan(ledger, "Plan")
    by_share: dict[int, UUID] = {}
    n = 0
    while len(by_share) < 2:
        n += 1
        measure_id = a_measure(ledger, plan_id, f"5.{n}")
        by_share.setdefault(share_of(measure_id, 2), measure_id)
    return by_share[0], by_share[1]


def test_known_at_is_the_running_maximum_over_all_shares_not_over_each_share_alone(
    ledger: Ledger, es_env: dict[str, str], database_url: str
) -> None:
    # Timestamps are taken before commit: A's change is made first, B's after, and B's is written first.
    a_id, b_id = two_measures_in_different_shares(ledger)
    a, b = ledger.get_measure(a_id), ledger.get_measure(b_id)
    a.update_commentary(Quarter.Q1, "written second, made first", actor=OFFICER.actor)
    time.sleep(0.002)
    b.update_commentary(Quarter.Q1, "written first, made second", actor=OFFICER.actor)
    (t_a,) = [e.timestamp for e in a.pending_events]
    (t_b,) = [e.timestamp for e in b.pending_events]
    assert t_a < t_b
    ledger.save(b)
    ledger.save(a)
    ledger.handle(SubmitFigure(a_id, "total", Quarter.Q2, parse_amount("10", None, None)), OFFICER)  # one more after

    rebuild(es_env, shares=1)
    in_one = audit_times(database_url)
    rebuild(es_env, shares=2)
    in_two = audit_times(database_url)

    assert in_two == in_one
    assert [p for p, _, _ in in_two] == stored_positions(ledger)
    running: datetime | None = None
    for _, recorded_at, known_at in in_two:
        running = recorded_at if running is None else max(running, recorded_at)
        assert known_at == running
    (a_entry,) = [(recorded, known) for _, recorded, known in in_two if recorded == t_a]
    assert a_entry == (t_a, t_b)  # A's change was known only once B's, made later and written earlier, was


class IndexBuildFailed(Exception):
    pass


def a_rebuild_that_died(
    ledger: Ledger, es_env: dict[str, str], database_url: str, monkeypatch: pytest.MonkeyPatch
) -> tuple[int, dict[str, list[tuple[Any, ...]]]]:
    """A ledger in both shares, rebuilt once in one process (its snapshot returned, with the last position),
    then a 2-share rebuild that dies building its indexes."""
    a_ledger_in_both_shares(ledger)
    last = ledger.recorder.max_notification_id() or 0
    rebuild(es_env, shares=1)
    good = snapshot(database_url)
    with its_index_build_failing(monkeypatch):
        rebuild(es_env, shares=2)
    return last, good


@contextmanager
def its_index_build_failing(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A rebuild run in the block dies building its indexes, after projecting every share."""

    def fail(env: Any, connections: int) -> None:
        raise IndexBuildFailed

    with monkeypatch.context() as patched:
        patched.setattr(projections.rebuild, "_build_read_indexes", fail)
        with pytest.raises(IndexBuildFailed):
            yield


def test_a_rebuild_that_dies_leaves_the_read_model_marked_and_the_next_catch_up_projects_it_again(
    ledger: Ledger, es_env: dict[str, str], database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    last, good = a_rebuild_that_died(ledger, es_env, database_url, monkeypatch)

    assert meta_version(database_url) == REBUILDING
    assert try_lock(database_url, LOCK_KEY)
    assert try_lock(database_url, REBUILD_LOCK_KEY)
    assert "ledger" not in tracking_rows(database_url)  # the shares' rows, not the ledger's

    assert catch_up_if_leader(es_env) == last

    assert snapshot(database_url) == good
    assert_rebuilt_and_released(database_url, last)


def test_a_leader_that_finds_its_read_model_empty_rebuilds_a_large_store_in_shares(
    ledger: Ledger, es_env: dict[str, str], database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # After a rebuild that died, the next leader finds the read model dropped, so empty.
    last, good = a_rebuild_that_died(ledger, es_env, database_url, monkeypatch)
    run_in_shares: list[int] = []
    run_shares = projections.rebuild._run_shares

    def spied(env: Any, shares: list[Any], end: int, progress: Any) -> int:
        run_in_shares.append(len(shares))
        return run_shares(env, shares, end, progress)

    monkeypatch.setattr(projections.rebuild, "SHARE_FROM", last)  # this store counts as large
    monkeypatch.setattr(projections.rebuild, "_run_shares", spied)

    assert catch_up_if_leader(es_env) == last

    assert run_in_shares == [projections.rebuild.default_shares()] and run_in_shares[0] >= 2
    assert snapshot(database_url) == good
    assert_rebuilt_and_released(database_url, last)
    # Once projected, the next catch-up has nothing to do, and no rebuild either.
    assert catch_up_if_leader(es_env) == 0
    assert run_in_shares == [projections.rebuild.default_shares()]


def test_open_view_leaves_a_rebuild_under_way_alone_and_drops_what_a_dead_one_left(
    ledger: Ledger, es_env: dict[str, str], database_url: str
) -> None:
    record_a_year(ledger, measures=1)
    last = ledger.recorder.max_notification_id() or 0
    catch_up_if_leader(es_env)
    projected = row_counts(database_url)
    assert projected["measures"] > 0 and projected["audit_entries"] == last

    with psycopg.connect(database_url, autocommit=True) as rebuilding:
        rebuilding.execute("SELECT pg_advisory_lock(%s)", (REBUILD_LOCK_KEY,))
        rebuilding.execute("UPDATE read_model_meta SET version = %s WHERE name = %s", (REBUILDING, NAME))
        dropped = sorted(READ_INDEX_NAMES)[0]
        rebuilding.execute(f"DROP INDEX {dropped}")

        open_view(es_env).datastore.close()

        # Not put back: the rebuild builds its indexes once, at its end.
        assert dropped not in index_names(database_url)
        assert row_counts(database_url) == projected
        assert tracking_rows(database_url) == {"ledger": last}
        assert meta_version(database_url) == REBUILDING
        rebuilding.execute("SELECT pg_advisory_unlock(%s)", (REBUILD_LOCK_KEY,))

        open_view(es_env).datastore.close()

    assert row_counts(database_url) == dict.fromkeys(TABLES, 0)
    assert tracking_rows(database_url) == {}
    assert meta_version(database_url) == VERSION


def read_all(reader: EventReader, last: int, limit: int) -> Page:
    events: Page = []
    first = 1
    while first <= last:
        page = reader.page(first, last, limit)
        if not page:
            break
        events.extend(page)
        first = page[-1][0] + 1
    return events


def test_the_shares_of_the_event_reader_are_together_every_event_once_each_in_its_aggregates_share(
    ledger: Ledger,
) -> None:
    record_a_year(ledger, measures=3)
    plan_id, n = a_plan(ledger, "Plan 2"), 0
    while {share_of(aggregate, 3) for aggregate in stored_aggregates(ledger)} != {0, 1, 2}:
        n += 1
        a_measure(ledger, plan_id, f"5.{n}")
    last = ledger.recorder.max_notification_id() or 0
    everything = read_all(EventReader(ledger.recorder, ledger.mapper), last, 1000)
    assert [p for p, _ in everything] == stored_positions(ledger)
    by_position = {p: event for p, event in everything}

    for count in (2, 3):
        seen: list[int] = []
        for index in range(count):
            share = read_all(EventReader(ledger.recorder, ledger.mapper, share=(index, count)), last, 7)
            assert share, f"share {index} of {count} is empty: a ledger too small to tell"
            positions = [p for p, _ in share]
            assert positions == sorted(positions)
            for p, event in share:
                assert share_of(event.originator_id, count) == index
                same = by_position[p]
                assert type(event) is type(same) and repr(event.__dict__) == repr(same.__dict__)
            seen.extend(positions)
        assert sorted(seen) == stored_positions(ledger)  # each exactly once


def test_a_rebuild_in_shares_reports_progress_up_to_the_stores_last_position(
    ledger: Ledger, es_env: dict[str, str]
) -> None:
    a_ledger_in_both_shares(ledger)
    last = ledger.recorder.max_notification_id() or 0
    reported: list[tuple[int, int]] = []

    rebuild(es_env, progress=lambda position, end: reported.append((position, end)), shares=2)

    assert reported
    assert {end for _, end in reported} == {last}
    positions = [p for p, _ in reported]
    assert all(0 <= p <= last for p in positions)
    assert positions == sorted(positions)
    assert reported[-1] == (last, last), "a progress bar ends full"


def test_a_share_that_fails_fails_the_rebuild_naming_the_share(es_env: dict[str, str]) -> None:
    # The shares' processes get settings of a schema that is not there: each fails as it opens the store.
    missing = {**es_env, "POSTGRES_SCHEMA": "no_such_schema_for_a_share"}

    with pytest.raises(RuntimeError, match=r"rebuilding current_state/share [12] of 2 failed \(exit status 1\)"):
        projections.rebuild._run_shares(missing, [Share(0, 2), Share(1, 2)], 10, None)
