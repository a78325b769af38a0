"""Running the projection: one leader at a time, catch-up, and rebuild.

Several service processes may share one database; a PostgreSQL advisory lock
makes exactly one of them run the projection, and another takes over when the
leader's connection goes away.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from eventsourcing.persistence import InfrastructureFactory, Tracking
from eventsourcing.utils import Environment
from psycopg.sql import SQL, Identifier

from domain.ledger import Ledger
from projections.current_state import NAME, CurrentState, CurrentStateView, schema_of, search_path
from projections.follow import follow
from projections.ledger_store.chain import catch_up_chain, open_chain
from projections.ledger_store.event_store import open_ledger
from projections.reading import EventReader
from projections.runtime import catching_up
from projections.stall import (
    DEFAULT_STALL_SECONDS,
    Holding,
    StallWatch,
    Stop,
    Stopped,
    Watched,
    holders,
    observe,
    replace,
)
from projections.tables import TABLES, VERSION

log = logging.getLogger(__name__)

LOCK_KEY = 0x4D4C5052  # "MLPR": the projection leader's advisory lock
# Held by a rebuild for its whole run, besides the leader's lock: a leader that finds the read model
# marked as being rebuilt can then tell a rebuild under way from one that died.
REBUILD_LOCK_KEY = 0x4D4C5242  # "MLRB"
BATCH = 500  # notifications read at a time
# Events written per transaction when catching up: each transaction costs a dozen
# round trips (a COPY per table), so larger ones measured faster, up to about this.
WRITE_BATCH = 2000
# Towards the end, smaller transactions: the last one is written after every event is projected,
# with nothing to overlap it, so a full-size one there added some 0.2 s to a medium rebuild.
LAST_WRITE_BATCH = 250
Progress = Callable[[int, int], None]
# read_model_meta.version while a rebuild runs: -VERSION (see `_drop_outdated_read_model`).
REBUILDING = -VERSION


@dataclass(frozen=True)
class Share:
    """One of `count` shares of the aggregates, projected by its own process in a rebuild."""

    index: int
    count: int

    def name(self, application: str) -> str:
        """The share's own tracking row's name."""
        return f"{application}/share {self.index + 1} of {self.count}"


def open_view(env: Mapping[str, str]) -> CurrentStateView:
    """The view's recorder, its tables created if missing and rebuilt if outdated."""
    # One built beside the served one starts from an empty schema of its own (projections/beside.py).
    if schema_of(env) == "public" and _drop_outdated_read_model(env):
        # Opened as the tables are: creating them "if not exists" would put back the indexes the
        # rebuild dropped (projections/rebuild.py), and would collide with its building them.
        env = {**env, "CREATE_TABLE": "no"}
    factory = InfrastructureFactory[CurrentStateView].construct(env=Environment(NAME, dict(env)))
    return factory.tracking_recorder(CurrentStateView)


def _drop_outdated_read_model(env: Mapping[str, str]) -> bool:
    """Read-model tables of another shape are dropped: the projection rebuilds them from events.

    Returns whether a rebuild is under way, in which case the tables are left as they are.
    """
    with psycopg.connect(conninfo(env), autocommit=True) as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY + 1,))
        conn.execute("CREATE TABLE IF NOT EXISTS read_model_meta (name text PRIMARY KEY, version integer NOT NULL)")
        row = conn.execute("SELECT version FROM read_model_meta WHERE name = %s", (NAME,)).fetchone()
        if row is not None and row[0] == VERSION:
            return False
        if row is not None and row[0] == REBUILDING and _held_elsewhere(conn, REBUILD_LOCK_KEY):
            # A rebuild is under way (it holds the lock); one that died released it, and is redone here.
            return True
        if row is not None or _has_table(conn, "plans"):
            log.warning("read model is at version %s, code at %s: dropping it to rebuild", row and row[0], VERSION)
            for table in (*TABLES, f"{NAME}_tracking"):
                conn.execute(SQL("DROP TABLE IF EXISTS {} CASCADE").format(Identifier(table)))
        conn.execute(
            "INSERT INTO read_model_meta VALUES (%s, %s) ON CONFLICT (name) DO UPDATE SET version = excluded.version",
            (NAME, VERSION),
        )
        return False


def _held_elsewhere(conn: psycopg.Connection[Any], key: int) -> bool:
    """Whether another session holds the advisory lock `key`."""
    row = conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
    if row and row[0]:
        conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
        return False
    return True


def _has_table(conn: psycopg.Connection[Any], table: str) -> bool:
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()
    return bool(row and row[0])


def conninfo(env: Mapping[str, str]) -> str:
    """A libpq connection string from the eventsourcing POSTGRES_* settings (for the read model's schema)."""
    parts = {
        "dbname": env.get("POSTGRES_DBNAME", ""),
        "host": env.get("POSTGRES_HOST", ""),
        "port": env.get("POSTGRES_PORT", ""),
        "user": env.get("POSTGRES_USER", ""),
        "password": env.get("POSTGRES_PASSWORD", ""),
    }
    if (schema := schema_of(env)) != "public":
        parts["options"] = search_path(schema)
    return psycopg.conninfo.make_conninfo(**{k: v for k, v in parts.items() if v})


def catch_up(
    ledger: Ledger,
    projection: CurrentState,
    progress: Progress | None = None,
    *,
    collect_cycles: bool = True,
    share: Share | None = None,
    last: int | None = None,
) -> int:
    """Process every event after the view's position, up to `last` (default: the store's last); returns how many.

    `collect_cycles=False` turns the cyclic garbage collector off for the run (see `runtime.catching_up`).
    With a `share`, only that share's events, tracked under the share's own name (projections/rebuild.py).
    """
    tracked = ledger.name if share is None else share.name(ledger.name)
    start = projection.view.position(tracked) + 1
    if last is None:
        last = ledger.recorder.max_notification_id() or 0
    done = 0
    # One batch context for the whole run, so each transaction is written while the next is computed.
    # closing(): on an error the reader thread is stopped here, not whenever the generator is collected.
    with (
        catching_up(collect_cycles),
        projection.batch(WRITE_BATCH, background=True),
        closing(_pages(ledger, start, last, share)) as pages,
    ):
        for page in pages:
            projection.batch_size = write_batch(last - page[0][0] + 1)
            for position, event in page:
                projection.process_event(event, Tracking(tracked, position))
                done += 1
            if progress:
                progress(page[-1][0], last)
    return done


def write_batch(remaining: int) -> int:
    """Events per transaction with `remaining` events to go: a third of them, within the bounds."""
    return max(LAST_WRITE_BATCH, min(WRITE_BATCH, remaining // 3))


def _pages(
    ledger: Ledger, start: int, last: int, share: Share | None = None
) -> Generator[list[tuple[int, Any]], None, None]:
    """The events from `start` to `last` with their positions, a page at a time.

    The next page is read and decoded on another thread while this one is
    projected: the database's part of the read overlaps, and decoding takes up
    the time this thread spends waiting for the writer.
    """

    reader = EventReader(ledger.recorder, ledger.mapper, None if share is None else (share.index, share.count))

    def read(first: int) -> list[tuple[int, Any]]:
        return reader.page(first, last, BATCH)

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="projection-reader") as thread:
        following = thread.submit(read, start) if start <= last else None
        while following is not None:
            page = following.result()
            if not page:
                return
            after = page[-1][0] + 1
            following = thread.submit(read, after) if after <= last else None
            yield page


def catch_up_if_leader(env: Mapping[str, str], progress: Progress | None = None) -> int:
    """Bring the read model up to date now, unless another process leads it."""
    with leadership(env) as leading:
        if not leading:
            return 0
        ledger = open_ledger(env)
        view = open_view(env)
        chain = open_chain(env)
        try:
            catch_up_chain(ledger, chain)
            rebuilt = _from_nothing(env, ledger, view, progress)
            return (rebuilt or 0) + catch_up(ledger, CurrentState(view, ledger), progress)
        finally:
            chain.datastore.close()
            view.datastore.close()
            ledger.close()


def _from_nothing(
    env: Mapping[str, str], ledger: Ledger, view: CurrentStateView, progress: Progress | None = None
) -> int | None:
    """A leader whose read model holds nothing (new, dropped as outdated, or left by a rebuild that died)
    rebuilds it in shares on every core when the store is large; returns how many events, if it did."""
    if view.position(ledger.name):
        return None
    # Imported here: projections/rebuild.py is built on this module.
    from projections.rebuild import rebuild_as_leader

    return rebuild_as_leader(env, progress)


@dataclass(frozen=True)
class Lock:
    """A try of the leader's lock: whether it was won, and the session that tried (and holds it if won)."""

    won: bool
    session: psycopg.Connection[Any]

    def __bool__(self) -> bool:
        return self.won


@contextmanager
def leadership(env: Mapping[str, str], *, wait: bool = False) -> Iterator[Lock]:
    """Hold the projection's advisory lock for the block; yields whether it was won (and its session)."""
    with psycopg.connect(conninfo(env), autocommit=True) as conn:
        if wait:
            conn.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
            won = True
        else:
            row = conn.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,)).fetchone()
            won = bool(row and row[0])
        try:
            yield Lock(won, conn)
        finally:
            if won and not conn.closed and not conn.broken:
                conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))


# The sessions holding the leader's lock, read from pg_locks without trying the lock (which would make a
# leader starting that moment wait for its next try).
_LEADER_LOCKS = holders(LOCK_KEY)
# An SQL expression: whether some process leads the projection.
LEADER_HELD = f"EXISTS (SELECT {_LEADER_LOCKS})"


def leaders(conninfo: str) -> int:
    """How many sessions hold the projection leader's lock: 1 while some process leads, else 0."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        row = conn.execute(f"SELECT count(DISTINCT pid) {_LEADER_LOCKS}").fetchone()
    return int(row[0]) if row else 0


def run_projection(
    env: Mapping[str, str],
    stop: Stop,
    retry_seconds: float = 2.0,
    stall_seconds: float = DEFAULT_STALL_SECONDS,
) -> None:
    """Lead the projection whenever this process can win the lock, until stopped.

    On standby, it replaces a leader that has made no progress for `stall_seconds` while events waited
    (projections/stall.py).
    """
    watch = StallWatch(stall_seconds)
    while not stop.is_set():
        replaced = False
        try:
            with leadership(env) as lock:
                if lock:
                    _lead(env, Holding(stop, lock.session))
                else:
                    replaced = _replace_stalled(env, lock.session, watch)
        except Stopped:
            pass
        except Exception:
            log.exception("projection stopped; retrying in %.0f s", retry_seconds)
        if not replaced:
            stop.wait(retry_seconds)


def _replace_stalled(env: Mapping[str, str], session: psycopg.Connection[Any], watch: StallWatch) -> bool:
    leader = observe(session, Watched(LOCK_KEY, REBUILD_LOCK_KEY, Ledger.name, NAME, REBUILDING))
    if not watch.stalled(leader):
        return False
    assert leader is not None
    log.warning(
        "the projection leader (PostgreSQL session %s) has projected nothing for %.0f s with %s events waiting;"
        " ending its session to take over",
        leader.backend,
        watch.stall_seconds,
        leader.behind,
    )
    return replace(session, leader, LOCK_KEY)


def _lead(env: Mapping[str, str], holding: Holding) -> None:
    # One thread does all the projecting: one connection each is plenty.
    env = {**env, "POSTGRES_POOL_SIZE": "1", "POSTGRES_MAX_OVERFLOW": "2"}
    ledger = open_ledger(env)
    view = open_view(env)
    chain = open_chain(env)
    try:
        catch_up_chain(ledger, chain)
        # Both stop between transactions once this process is to stop leading.
        _from_nothing(env, ledger, view, holding.check)
        projection = CurrentState(view, ledger)
        catch_up(ledger, projection, holding.check)
        # The hash chain (with its own tracking, projections/ledger_store/chain.py) follows the store a burst at a time
        # too, after the read model that writers wait for: one transaction per burst, not per event.
        log.info("projection %s leading from position %s", NAME, view.position(ledger.name))
        follow(ledger, projection, conninfo(env), holding, then=lambda: catch_up_chain(ledger, chain))
    finally:
        chain.datastore.close()
        view.datastore.close()
        ledger.close()
