"""A leader that holds the lock but projects nothing gives way.

The leader's advisory lock goes with its session: a leader that dies or loses its connection frees it
for the next process on standby. A leader that stays connected but stops (its thread stuck, its
process paused or wedged) would keep it for ever, and with it the read model: every write would wait
its full time for a position that never comes. Two checks keep leadership tied to progress:

- Each process on standby watches the leader between its tries of the lock (`StallWatch`): when
  recorded events wait to be projected and neither the read model's position nor the hash chain's has
  moved for `stall_seconds` under one leader session, it terminates that session
  (`pg_terminate_backend`, which a role may do to its own sessions), so the lock is free for its next
  try. A leader rebuilding is left alone: its positions move only in its shares' tracking rows.
- The leader checks its own lock's session while it projects (`Holding`), and stops leading once that
  session is gone, so that a leader replaced that way, should it wake, never projects beside the next.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import psycopg
from psycopg.sql import SQL, Composable, Identifier, Literal

log = logging.getLogger(__name__)

# How long a leader may make no progress while events wait before a process on standby replaces it:
# well beyond one transaction of a catch-up, and beyond a write's wait for the read model (10 s), so
# that a leader that is merely slow is not replaced.
DEFAULT_STALL_SECONDS = 15.0
# How often a leader checks that its lock's session is still there (one round trip).
CHECK_SECONDS = 1.0


class Stop(Protocol):
    """What tells a projection to stop: a threading.Event, or a signal's flag (service/stopping.py)."""

    def is_set(self) -> bool: ...

    def wait(self, timeout: float | None = None) -> bool: ...


class Stopped(Exception):
    """Raised between transactions of a catch-up when the leader is to stop (`Holding.check`)."""


@dataclass(frozen=True)
class Leader:
    """The leader as a process on standby sees it."""

    backend: int  # the PostgreSQL pid of the session holding the leader's lock
    progress: tuple[int, int]  # the read model's position and the hash chain's
    behind: int  # events recorded and not yet in the read model
    rebuilding: bool  # a rebuild holds its lock


class StallWatch:
    """Whether the leader has made no progress for `stall_seconds` while events waited."""

    def __init__(self, stall_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.stall_seconds = stall_seconds
        self._clock = clock
        self._seen: Leader | None = None
        self._since = 0.0

    def stalled(self, leader: Leader | None) -> bool:
        now = self._clock()
        if leader is None or leader.rebuilding or leader.behind <= 0:
            self._seen = None
            return False
        seen = self._seen
        if seen is None or (seen.backend, seen.progress) != (leader.backend, leader.progress):
            self._seen, self._since = leader, now
            return False
        return now - self._since >= self.stall_seconds


def holders(key: int) -> str:
    """SQL: `FROM pg_locks` where the sessions holding advisory lock `key` in this database are. A bigint
    key is held as classid (its high half) and objid (its low half), objsubid 1."""
    return (
        "FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1"
        f" AND ((classid::bigint << 32) | objid::bigint) = {int(key)}"
        " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    )


@dataclass(frozen=True)
class Watched:
    """What shows a leader's progress: its lock, a rebuild's, and the tables it moves."""

    lock_key: int
    rebuild_key: int
    application: str  # the event store's application: events in <application>_events
    view: str  # the read model: tracked in <view>_tracking, marked in read_model_meta
    rebuilding: int  # read_model_meta's version while the read model is rebuilt in place


def observe(conn: psycopg.Connection[Any], watched: Watched) -> Leader | None:
    """The leader, its positions and how far behind it is; None if nobody leads."""
    view, events = f"{watched.view}_tracking", f"{watched.application}_events"
    tables = [view, "event_chain_tracking", events, "read_model_meta"]
    row = conn.execute("SELECT " + ", ".join(["to_regclass(%s) IS NOT NULL"] * len(tables)), tables).fetchone()
    made = dict(zip(tables, row or (), strict=False))

    def of(table: str, query: Composable) -> Composable:
        # A table not made yet (a new database whose leader has not opened it): nothing there.
        return SQL("({})").format(query) if made.get(table) else SQL("NULL")

    mine = Literal(watched.application)
    tracked = SQL("SELECT max(notification_id) FROM {} WHERE application_name = {}")
    query = SQL(
        "SELECT pid, {view}, {chain}, {events},"
        # A rebuild: in place (its mark), or one beside swapping in (the leader's session holds its lock too).
        " coalesce({marked}, false) OR EXISTS (SELECT {rebuild} AND pid = leader.pid)"
        " FROM (SELECT pid {leader} LIMIT 1) AS leader"
    ).format(
        view=of(view, tracked.format(Identifier(view), mine)),
        chain=of("event_chain_tracking", tracked.format(Identifier("event_chain_tracking"), mine)),
        events=of(events, SQL("SELECT max(notification_id) FROM {}").format(Identifier(events))),
        marked=of(
            "read_model_meta",
            SQL("SELECT version = {} FROM read_model_meta WHERE name = {}").format(
                Literal(watched.rebuilding), Literal(watched.view)
            ),
        ),
        rebuild=SQL(holders(watched.rebuild_key)),
        leader=SQL(holders(watched.lock_key)),
    )
    row = conn.execute(query).fetchone()
    if row is None:
        return None
    backend, position, chained, recorded, rebuilding = row
    position, chained = int(position or 0), int(chained or 0)
    return Leader(int(backend), (position, chained), int(recorded or 0) - position, bool(rebuilding))


def replace(conn: psycopg.Connection[Any], leader: Leader, lock_key: int) -> bool:
    """End the stalled leader's session, if it still holds the lock; whether it was ended."""
    row = conn.execute(
        f"SELECT pg_terminate_backend(pid, 5000) {holders(lock_key)} AND pid = %s",
        (leader.backend,),
    ).fetchone()
    return bool(row and row[0])


class Holding:
    """Whether to go on leading: until `stop`, or until the session holding the lock is gone."""

    def __init__(self, stop: Stop, lock: psycopg.Connection[Any], check_seconds: float = CHECK_SECONDS) -> None:
        self._stop, self._lock, self._check_seconds = stop, lock, check_seconds
        self._next_check = time.monotonic() + check_seconds
        self._lost = False

    def is_set(self) -> bool:
        if self._stop.is_set() or self._lost:
            return True
        if time.monotonic() >= self._next_check:
            try:
                self._lock.execute("SELECT 1")
            except psycopg.Error as e:
                log.warning("the projection leader's lock was lost (%s); leading no more", str(e).strip())
                self._lost = True
            self._next_check = time.monotonic() + self._check_seconds
        return self._lost

    def wait(self, timeout: float | None = None) -> bool:
        self._stop.wait(timeout)
        return self.is_set()

    def check(self, done: int = 0, total: int = 0) -> None:
        """A catch-up's progress callback: raises Stopped between its transactions once leading ends."""
        if self.is_set():
            raise Stopped
