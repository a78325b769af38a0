"""Start-up steps: checking the configured database at once, and steps several processes may run at once."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

import psycopg
import psycopg.conninfo
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


# How long a command waits for the configured server to answer before saying it cannot be reached.
CONNECT_TIMEOUT_SECONDS = 5


class DatabaseUnusable(Exception):
    """The configured database cannot be used; the message is one line, naming the cause and the URL."""


def hide_password(url: str) -> str:
    """A database URL or libpq string as it may be shown: its password, however it was given, as `***`."""
    hidden = re.sub(r"(^|[/\s])([^\s:/@]*:)[^@\s/]*@", r"\1\2***@", url)  # USER:PASSWORD@, with or without a scheme
    return re.sub(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^&\s]+)", r"\1***", hidden, flags=re.IGNORECASE)


def check_database(url: str, timeout: float = CONNECT_TIMEOUT_SECONDS) -> None:
    """Connect once to `url`, or raise DatabaseUnusable saying why in one line.

    Without it a wrong URL met eventsourcing's connection pool first, which retries for 30 s and then fails
    with a long traceback that hides the cause.
    """
    shown = hide_password(url)
    try:
        password = str(psycopg.conninfo.conninfo_to_dict(url).get("password") or "")
    except psycopg.ProgrammingError:
        raise DatabaseUnusable(
            f"DATABASE_URL is not a PostgreSQL URL (postgresql://USER:PASSWORD@HOST:PORT/DATABASE) "
            f"or key=value string: {shown}"
        ) from None
    try:
        psycopg.connect(url, connect_timeout=max(1, round(timeout))).close()
    except psycopg.Error as e:
        cause = _cause(str(e))
        if password:
            cause = cause.replace(password, "***")
        raise DatabaseUnusable(f"cannot use the database at {shown}: {cause}") from None


def _cause(message: str) -> str:
    """The reason in libpq's message, on one line: `Connection refused`, `password authentication failed ...`."""
    first = message.strip().splitlines()[0] if message.strip() else "no reason given"
    for prefix in ("connection failed: ", "connection is bad: "):
        first = first.removeprefix(prefix)
    if "failed: " in first:
        first = first.rsplit("failed: ", 1)[1]
    return re.sub(r"^(FATAL|ERROR):\s*", "", first).strip()
