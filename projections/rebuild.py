"""Rebuilding the read model from the whole event store, on every core.

In place here (a leader whose read model is empty or outdated); `measure-ledger rebuild` builds a new one
beside the served one with the same functions, and swaps it in (projections/beside.py).

A catch-up projects in one interpreter, whose threads share one GIL: one core at most, most of it
Python CPU, while PostgreSQL has the rest of the machine to itself.
A rebuild has the whole store to project and nobody relying on the tables until it is done, so
it splits the aggregates into shares, one process each (`python -m projections.rebuild`). A share
projects its own aggregates' events in position order, with its own tracking row written in the
same transaction as its rows: exactly once, share by share. One aggregate's rows depend only on
its own events, so no two shares write the same row. Only the audit entries' `known_at`, the
running maximum of the times of all events before, spans shares; it is set over the whole table
at the end.

While a rebuild runs the read model is marked as being rebuilt (`read_model_meta.version` is
`view.REBUILDING`) and the rebuild holds `locks.REBUILD_LOCK_KEY`. It ends in one transaction:
`known_at`, the ledger's tracking row at the last position, the shares' rows removed, the mark
lifted, and a NOTIFY. A rebuild that dies leaves the mark without the lock, and the next process to
open the view drops the tables; its leader, finding the read model empty, rebuilds it here again
(`rebuild_as_leader`). While the mark is set the response cache stands aside
(service/response_cache.py): one plan's measures may be in different shares, at different paces.

Indexes that only reads use are dropped at the start and built at the end: built once from all
the rows they cost about a fifth less of PostgreSQL's CPU than kept up to date row by row
(56 against 72 µs per event, on 192,014 events), and the end builds them on several connections.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path

import psycopg
from eventsourcing.persistence import Tracking
from psycopg.rows import TupleRow
from psycopg.sql import SQL, Identifier

from domain.ledger import Ledger
from projections.catch_up import Progress, Share, catch_up
from projections.current_state import CurrentState
from projections.event_reader import can_share
from projections.handover import Say, take_lead, wait_for
from projections.ledger_store.chain import link_through, open_chain
from projections.ledger_store.event_store import open_ledger
from projections.locks import LOCK_KEY, REBUILD_LOCK_KEY
from projections.read_model_tables import DDL, VERSION
from projections.runtime import catching_up, exit_with_parent, parent_env
from projections.view import CHANNEL, NAME, REBUILDING, CurrentStateView, conninfo, open_view, schema_of

log = logging.getLogger(__name__)

# Below this many events one process rebuilds alone: starting another interpreter costs about half a second.
SHARE_FROM = 20_000
# The indexes dropped for a rebuild: those no write looks up by. Kept: primary keys, and the unique
# current-row indexes, which closing a row written in an earlier transaction looks up by.
READ_INDEXES = [s for s in DDL if s.startswith("CREATE INDEX")]
_INDEX_NAME = re.compile(r"CREATE INDEX IF NOT EXISTS (\w+) ON")
# A share's process: one projecting thread, a reader and a writer, so three connections; and the
# event store as the rebuild found it (shares starting together collided creating it "if not exists").
_SHARE_ENV = {"POSTGRES_POOL_SIZE": "1", "POSTGRES_MAX_OVERFLOW": "2", "CREATE_TABLE": "no"}
_POLL_SECONDS = 0.5


def default_shares() -> int:
    """One share per core: each share's process uses about one."""
    return max(1, min(os.cpu_count() or 1, 8))


def rebuild(
    env: Mapping[str, str], progress: Progress | None = None, *, shares: int | None = None, say: Say = log.info
) -> int:
    """Empty the served read model and replay the whole event store into it, as leader; returns how many events.

    With more than one share (default: one per core, for a store of at least SHARE_FROM events),
    each share's events are projected by a process of its own. The lead is taken from a running
    service for the whole rebuild (projections/handover.py), and reads meanwhile see a partial read
    model: projections/beside.py rebuilds beside the served one instead.
    """
    with _rebuilding(env, say=say) as conn:
        return build_read_model(conn, env, progress, shares)


def rebuild_as_leader(env: Mapping[str, str], progress: Progress | None = None) -> int | None:
    """For a leader whose read model is empty (new, dropped as outdated, or left by a rebuild that died):
    a rebuild in shares, under the leader's lock it already holds, when the store is large enough to
    gain from it. Returns how many events, or None when a catch-up is the better way."""
    ledger = open_ledger(env)
    try:
        large = (ledger.recorder.max_notification_id() or 0) >= SHARE_FROM
    finally:
        ledger.close()
    if not large or default_shares() < 2:
        return None
    with _rebuilding(env, leading=True) as conn:
        return build_read_model(conn, env, progress, None)


def build_read_model(
    conn: psycopg.Connection[TupleRow], env: Mapping[str, str], progress: Progress | None, shares: int | None
) -> int:
    """Empty the read model of `env`'s schema and project the whole store into it; returns how many events."""
    ledger = open_ledger(env)
    chain = open_chain(env)
    try:
        last = ledger.recorder.max_notification_id() or 0
        count = shares or (default_shares() if last >= SHARE_FROM else 1)
        if count > 1 and not can_share(ledger.recorder, ledger.mapper):
            count = 1
        # Every publication up to `last` then has its link when its row is written (projections/ledger_store/chain.py).
        link_through(ledger, chain, last)
    finally:
        chain.datastore.close()
        ledger.close()
    view = open_view(env)
    try:
        view.clear()
    finally:
        view.datastore.close()
    _drop_read_indexes(conn, schema_of(env))
    plan = [Share(i, count) for i in range(count)]
    began = time.perf_counter()
    done = project_share(env, plan[0], last, progress) if count == 1 else _run_shares(env, plan, last, progress)
    projected = time.perf_counter()
    _build_read_indexes(env, count)
    _finish(conn, env, plan, last)
    log.info(
        "rebuilt the read model from %d events in %d share(s): projected in %.1f s, indexed and finished in %.1f s",
        done,
        count,
        projected - began,
        time.perf_counter() - projected,
    )
    return done


@contextmanager
def _rebuilding(
    env: Mapping[str, str], *, leading: bool = False, say: Say = log.info
) -> Iterator[psycopg.Connection[TupleRow]]:
    """The leader's lock (unless the caller `leading` holds it) and the rebuild's, held for the block,
    the read model marked as being rebuilt."""
    with psycopg.connect(conninfo(env), autocommit=True) as conn:
        if not leading:
            take_lead(conn, LOCK_KEY, say)
        wait_for(conn, REBUILD_LOCK_KEY, "another rebuild", say)
        try:
            # The view is made (or dropped as outdated) before it is marked.
            open_view(env).datastore.close()
            conn.execute("UPDATE read_model_meta SET version = %s WHERE name = %s", (REBUILDING, NAME))
            yield conn
        finally:
            if not conn.closed:
                conn.execute("SELECT pg_advisory_unlock(%s)", (REBUILD_LOCK_KEY,))
                if not leading:
                    conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))


def project_share(env: Mapping[str, str], share: Share, last: int, progress: Progress | None = None) -> int:
    """Project one share's events up to `last` into the emptied read model; returns how many."""
    env = {**env, **_SHARE_ENV}
    ledger = open_ledger(env)
    view = open_view(env)
    view.notify = share.count == 1
    try:
        # The cache is emptied before the collector is back on: everything the run kept is in the young
        # generations (nothing was collected, so nothing was promoted), and the collection that followed
        # re-enabling traversed every aggregate and row the cache held, a cost in proportion to the cache,
        # not to the rebuild. Freed by reference counting instead, as it is anyway once the projection goes.
        with catching_up(collect_cycles=False):
            projection = CurrentState(view, ledger)
            try:
                return catch_up(
                    ledger,
                    projection,
                    progress,
                    collect_cycles=False,
                    share=None if share.count == 1 else share,
                    last=last,
                )
            finally:
                projection.cache.clear()
    finally:
        view.datastore.close()
        ledger.close()


def _run_shares(env: Mapping[str, str], shares: list[Share], last: int, progress: Progress | None) -> int:
    """Each share projected by a process of its own; returns how many events they projected in all."""
    # The child finds these packages where this process found them, whatever its working directory.
    root = str(Path(__file__).resolve().parent.parent)
    child_env = {
        **os.environ,
        **parent_env(),
        "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])),
    }
    processes = []
    try:
        for share in shares:
            process = subprocess.Popen(
                [sys.executable, "-m", "projections.rebuild", str(share.index), str(share.count), str(last)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env=child_env,
                text=True,
            )
            assert process.stdin is not None
            # The settings go by pipe: they may hold a password.
            process.stdin.write(json.dumps(dict(env)))
            process.stdin.close()
            processes.append(process)
        _follow(env, processes, shares, last, progress)
        for share, process in zip(shares, processes, strict=True):
            if process.poll() not in (None, 0):
                # Raised before the others are waited for: the `finally` stops them.
                raise RuntimeError(f"rebuilding {share.name(NAME)} failed (exit status {process.returncode})")
        counts = []
        for process in processes:
            assert process.stdout is not None
            with process.stdout:
                counts.append(int(process.stdout.read().split()[-1]))
            process.wait()
        if progress is not None:
            progress(last, last)
        return sum(counts)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
            process.wait()
            if process.stdout is not None:
                process.stdout.close()


def _follow(
    env: Mapping[str, str],
    processes: list[subprocess.Popen[str]],
    shares: list[Share],
    last: int,
    progress: Progress | None,
) -> None:
    """Until every share's process has ended (or one has failed), reporting the slowest share's position."""
    names = [share.name(Ledger.name) for share in shares]
    with ExitStack() as stack:
        conn = stack.enter_context(psycopg.connect(conninfo(env), autocommit=True)) if progress else None
        while True:
            ended = [process.poll() for process in processes]
            if progress is not None and conn is not None:
                rows = conn.execute(
                    SQL("SELECT application_name, notification_id FROM {} WHERE application_name = ANY(%s)").format(
                        Identifier(f"{NAME}_tracking")
                    ),
                    (names,),
                ).fetchall()
                reached = {str(name): int(str(position)) for name, position in rows}
                progress(min(reached.get(name, 0) for name in names), last)
            if all(code is not None for code in ended) or any(code not in (None, 0) for code in ended):
                return
            time.sleep(_POLL_SECONDS)


def _drop_read_indexes(conn: psycopg.Connection[TupleRow], schema: str) -> None:
    for statement in READ_INDEXES:
        match = _INDEX_NAME.match(statement)
        assert match is not None, statement
        # Named in full: a read model built beside the served one must never drop the served one's indexes.
        conn.execute(SQL("DROP INDEX IF EXISTS {}.{}").format(Identifier(schema), Identifier(match.group(1))))


def _build_read_indexes(env: Mapping[str, str], connections: int) -> None:
    """The dropped indexes, built on up to `connections` connections at once."""

    def build(statements: list[str]) -> None:
        with psycopg.connect(conninfo(env), autocommit=True) as conn:
            # A sort in memory rather than on disk, for a national ledger's largest tables.
            conn.execute("SET maintenance_work_mem = '256MB'")
            for statement in statements:
                conn.execute(statement.encode())

    # Dealt out in turn: each table's several indexes go to different connections.
    batches: list[list[str]] = [READ_INDEXES[i::connections] for i in range(connections)]
    with ThreadPoolExecutor(max_workers=connections, thread_name_prefix="rebuild-index") as pool:
        for built in [pool.submit(build, batch) for batch in batches if batch]:
            built.result()


def _finish(conn: psycopg.Connection[TupleRow], env: Mapping[str, str], shares: list[Share], last: int) -> None:
    """In one transaction: known_at over every share, the ledger's position, the mark lifted, a notice."""
    view: CurrentStateView = open_view(env)
    try:
        with view.datastore.transaction(commit=True) as curs:
            if len(shares) > 1:
                # Each share kept the running maximum of its own events' times; the read model's is of all events.
                # The rows to change are found in one ordered pass and changed by key: usually none are (times
                # mostly follow positions). Joined to the whole table instead, PostgreSQL compiled the query by
                # JIT for its size and took about three times as long.
                curs.execute("SET LOCAL jit = off")
                curs.execute(
                    """WITH late AS MATERIALIZED (
                        SELECT position, running FROM (
                            SELECT position, known_at, max(recorded_at) OVER (ORDER BY position) AS running
                            FROM audit_entries
                        ) AS r WHERE known_at <> running
                    )
                    UPDATE audit_entries AS a SET known_at = late.running FROM late WHERE a.position = late.position"""
                )
                curs.execute(
                    SQL("DELETE FROM {} WHERE application_name = ANY(%s)").format(Identifier(view.tracking_table_name)),
                    ([share.name(Ledger.name) for share in shares],),
                )
                if last:
                    view._insert_tracking(curs, Tracking(Ledger.name, last))
            curs.execute("UPDATE read_model_meta SET version = %s WHERE name = %s", (VERSION, NAME))
            if view.notify:  # not for a read model built beside the served one
                curs.execute("SELECT pg_notify(%s, %s)", (CHANNEL, str(last)))
    finally:
        view.datastore.close()


def main() -> None:
    """A share's process: `python -m projections.rebuild INDEX COUNT LAST`, the settings as JSON on stdin."""
    exit_with_parent()
    index, count, last = (int(arg) for arg in sys.argv[1:4])
    env = json.loads(sys.stdin.read())
    logging.basicConfig(level=logging.WARNING)
    print(project_share(env, Share(index, count), last))


if __name__ == "__main__":
    main()
