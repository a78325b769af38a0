"""Start-up steps several service processes may run at once against one database."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

import psycopg
import psycopg.errors

log = logging.getLogger(__name__)
T = TypeVar("T")

# Distinct from the projection leader's and the append-only installer's locks.
TABLES_LOCK_KEY = 0x4D4C5054  # "MLPT"

# What concurrent DDL raises: two CREATE TABLE IF NOT EXISTS of one new table
# (a unique violation on pg_type), or two CREATE OR REPLACE FUNCTION at once.
_DDL_RACES = (psycopg.errors.UniqueViolation, psycopg.errors.InternalError_, psycopg.errors.DeadlockDetected)


def _is_ddl_race(error: BaseException) -> bool:
    while error is not None:
        if isinstance(error, _DDL_RACES):
            return True
        error = error.__cause__  # type: ignore[assignment]  # eventsourcing wraps psycopg's errors
    return False


def create_tables(database_url: str, create: Callable[[], T], ddl: Sequence[str] = (), attempts: int = 5) -> T:
    """Run `ddl`, then `create` (which makes tables if missing), under a session advisory lock; retry a DDL race.

    `CREATE TABLE IF NOT EXISTS` is not safe against itself: processes starting
    together on a new database fail with a unique violation on pg_type. The
    lock serialises service processes; the retry covers DDL run elsewhere
    without it (the projection leader opens the same stores when it takes over).
    """
    for attempt in range(1, attempts + 1):
        try:
            with psycopg.connect(database_url, autocommit=True) as conn:
                conn.execute("SELECT pg_advisory_lock(%s)", (TABLES_LOCK_KEY,))
                try:
                    for statement in ddl:
                        conn.execute(statement)  # our own constant DDL
                    return create()
                finally:
                    conn.execute("SELECT pg_advisory_unlock(%s)", (TABLES_LOCK_KEY,))
        except Exception as e:
            if attempt == attempts or not _is_ddl_race(e):
                raise
            log.warning("creating tables raced with another process (%s); retrying", e)
            time.sleep(0.2 * attempt)
    raise AssertionError("unreachable")
