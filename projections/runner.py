"""Running the projection: one leader at a time, which catches up, then follows the store live.

Several service processes may share one database; a PostgreSQL advisory lock
makes exactly one of them run the projection, and another takes over when the
leader's connection goes away.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg

from domain.ledger import Ledger
from projections.catch_up import Progress, catch_up
from projections.current_state import CurrentState
from projections.ledger_store.chain import catch_up_chain, open_chain
from projections.ledger_store.event_store import open_ledger
from projections.live import follow
from projections.locks import LOCK_KEY, REBUILD_LOCK_KEY
from projections.rebuild import rebuild_as_leader
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
from projections.view import NAME, REBUILDING, CurrentStateView, conninfo, open_view

log = logging.getLogger(__name__)

# The threads of this process leading the projection now (one at most per database): what
# service/metrics.py reports as this process's leadership.
_LEADING: set[int] = set()


def leading() -> bool:
    """Whether this process leads the projection now."""
    return bool(_LEADING)


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
            return (rebuilt or 0) + catch_up(ledger, CurrentState(view, ledger, chain=chain), progress)
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
                    _LEADING.add(threading.get_ident())
                    try:
                        _lead(env, Holding(stop, lock.session))
                    finally:
                        _LEADING.discard(threading.get_ident())
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
        projection = CurrentState(view, ledger, chain=chain)
        catch_up(ledger, projection, holding.check)
        # The hash chain (with its own tracking, projections/ledger_store/chain.py) follows the store a burst at a time
        # too, after the read model that writers wait for: one transaction per burst, not per event.
        log.info("projection %s leading from position %s", NAME, view.position(ledger.name))
        follow(ledger, projection, conninfo(env), holding, then=lambda: catch_up_chain(ledger, chain))
    finally:
        chain.datastore.close()
        view.datastore.close()
        ledger.close()
