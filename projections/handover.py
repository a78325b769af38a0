"""Taking the projection's lead from a running service for a rebuild, and saying so.

A rebuild needs the leader's lock for the moments when it changes the served read model. Waiting for
it in silence beside a running service waited for ever: the service's leader never lets go. Instead
the rebuild ends the leader's session, which frees the lock (the leader notices within a second and
stands by, projections/stall.py), and takes it; when the rebuild lets it go, a process on standby
takes the lead back within its next try, two seconds at most. Every wait is said as it starts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import psycopg

from projections.stall import holders

Say = Callable[[str], None]
_RETRY_SECONDS = 0.05


def take_lead(conn: psycopg.Connection[Any], key: int, say: Say) -> None:
    """Hold advisory lock `key` on `conn`, ending whichever session holds it (the running leader).

    Where this role may not end that session, says so and waits for the lock instead.
    """
    told: set[int] = set()
    while not _try(conn, key):
        holder = _holder(conn, key)
        if holder is None:
            continue  # let go meanwhile
        if holder not in told:
            told.add(holder)
            say(f"taking the projection's lead from PostgreSQL session {holder}; the service takes it back after")
        try:
            conn.execute("SELECT pg_terminate_backend(%s, 5000)", (holder,))
        except psycopg.errors.InsufficientPrivilege:
            say(
                f"this role may not end session {holder}, which leads the projection: waiting for it to let go"
                " (stop the service's projector, or run this as the service's role)"
            )
            conn.execute("SELECT pg_advisory_lock(%s)", (key,))
            return
        time.sleep(_RETRY_SECONDS)


def wait_for(conn: psycopg.Connection[Any], key: int, what: str, say: Say) -> None:
    """Hold advisory lock `key` on `conn`; if another session holds it, say that `what` is waited for."""
    if _try(conn, key):
        return
    say(f"waiting for {what} (PostgreSQL session {_holder(conn, key)}) to end")
    conn.execute("SELECT pg_advisory_lock(%s)", (key,))


def _try(conn: psycopg.Connection[Any], key: int) -> bool:
    row = conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
    return bool(row and row[0])


def _holder(conn: psycopg.Connection[Any], key: int) -> int | None:
    row = conn.execute(f"SELECT pid {holders(key)} LIMIT 1").fetchone()
    return int(row[0]) if row else None
