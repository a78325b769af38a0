"""The read pool: asyncpg's pool, where a read that meets a lost connection is tried once more on a new one.

When PostgreSQL restarts, every connection the pool holds is gone. asyncpg replaces those it has seen close,
but one whose loss it learns of only by using it (a server that went away without a word, a restart while the
read ran) fails that read, and the request with it. Here such a read is run once more on a fresh connection,
and the pool's other connections are replaced too, as they most likely went the same way. Only reads are retried
(`fetch`, `fetchrow` and `fetchval` of a statement that inserts, updates or deletes nothing): a statement that
changes something is never run twice. A database that is still down fails the second try as well.
"""

from __future__ import annotations

import hashlib
import inspect
import logging
import re
from typing import Any

import asyncpg
import asyncpg.connection
import asyncpg.pool

from service.pools import keep_session

log = logging.getLogger(__name__)

# What a statement raises on a connection that is no longer there: lost in the middle of the statement, found
# closed, ended by the server (administrator command, crash), or refused at the socket.
_LOST = (
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    ConnectionError,
)

# A statement that may change something, which is never run a second time (`SELECT ... FOR UPDATE` included).
_WRITES = re.compile(r"\b(INSERT|UPDATE|DELETE|MERGE|TRUNCATE)\b", re.IGNORECASE)


def lost_connection(error: BaseException) -> bool:
    """Whether `error` says the connection itself is gone, rather than anything about the statement."""
    if isinstance(error, _LOST):
        return True
    # asyncpg says so with an InterfaceError when it finds the connection closed before sending anything.
    return isinstance(error, asyncpg.InterfaceError) and "closed" in str(error)


# asyncpg's code that `ReadPool.release` does at once, by a hash of its text: where an upgrade changed any of it,
# connections are released as asyncpg releases them (tests/integration/test_read_pool.py says so).
RELEASE_CODE = {
    "Pool.release": "e24e3da0c5bf1df6",
    "PoolConnectionHolder.release": "a8af808680d4c5ce",
    "PoolConnectionHolder._release": "daf444ce5b345cb1",
    "Connection._reset": "3252aa6d5b0eb65f",
}


def release_code() -> dict[str, str]:
    """The hashes of the asyncpg functions named in RELEASE_CODE, as installed."""
    functions = {
        "Pool.release": asyncpg.pool.Pool.release,
        "PoolConnectionHolder.release": asyncpg.pool.PoolConnectionHolder.release,
        "PoolConnectionHolder._release": asyncpg.pool.PoolConnectionHolder._release,
        "Connection._reset": asyncpg.connection.Connection._reset,
    }
    return {name: hashlib.sha256(inspect.getsource(f).encode()).hexdigest()[:16] for name, f in functions.items()}


try:
    _RELEASED_AT_ONCE = release_code() == RELEASE_CODE
except (OSError, TypeError):  # no source to read
    _RELEASED_AT_ONCE = False


class ReadPool(asyncpg.Pool):  # type: ignore[misc]
    """asyncpg.Pool; `fetch`, `fetchrow` and `fetchval` retried once on a lost connection, and a connection
    that needs nothing done to it released at once."""

    async def release(self, connection: Any, *, timeout: float | None = None) -> None:
        """As asyncpg's, which shields a task that resets the connection (a transaction to roll back, then the
        pool's `reset`) and puts it back: each read paid for a task, a timeout scope and a turn of the event
        loop. A connection with nothing to roll back, under a pool whose reset does nothing (service/pools.py),
        is put back here at once, by the same steps, none of which waits."""
        holder = getattr(connection, "_holder", None)
        con = getattr(connection, "_con", None)
        if (
            not _RELEASED_AT_ONCE
            or self._reset is not keep_session
            or type(connection) is not asyncpg.pool.PoolConnectionProxy
            or holder is None
            or holder._pool is not self
            or con is None
            or holder._in_use is None
            or not self._initialized
            or self._closed
            or self._closing
            or con.is_closed()
            or con._protocol.queries_count >= holder._max_queries
            or holder._generation != self._generation
            or con._protocol._is_cancelling()
            or con._protocol.is_in_transaction()
            or con._top_xact is not None
        ):
            await super().release(connection, timeout=timeout)
            return
        # Pool.release, then PoolConnectionHolder.release with nothing to wait for: Connection._reset's part
        # before its ROLLBACK, and keep_session, which does nothing.
        con._on_release()
        holder._timeout = None
        con._listeners.clear()
        con._log_listeners.clear()
        holder._release()
        holder._setup_inactive_callback()

    async def _read(self, method: str, query: str, *args: Any, **kwargs: Any) -> Any:
        try:
            async with self.acquire() as connection:
                return await getattr(connection, method)(query, *args, **kwargs)
        except Exception as e:
            await self.lost(e, query)
        return await self.read_again(method, query, *args, **kwargs)

    async def lost(self, error: Exception, query: str) -> None:
        """After a read failed with `error`: raises it unless the connection was lost under a read, else lets go
        of the pool's other connections, most likely gone the same way."""
        if not lost_connection(error) or _WRITES.search(query):
            raise error
        log.warning("a pooled connection was lost (%s: %s); reading again on a new one", type(error).__name__, error)
        await self.expire_connections()

    async def read_again(self, method: str, query: str, *args: Any, **kwargs: Any) -> Any:
        """The one more try of a read after `lost`."""
        async with self.acquire() as connection:
            return await getattr(connection, method)(query, *args, **kwargs)

    async def fetch(self, query: str, *args: Any, **kwargs: Any) -> Any:
        return await self._read("fetch", query, *args, **kwargs)

    async def fetchrow(self, query: str, *args: Any, **kwargs: Any) -> Any:
        return await self._read("fetchrow", query, *args, **kwargs)

    async def fetchval(self, query: str, *args: Any, **kwargs: Any) -> Any:
        return await self._read("fetchval", query, *args, **kwargs)


class Lease:
    """One connection of a ReadPool lent to a request for the single reads it makes before executing (its token,
    its cached result's validator): taken at the first read and given back by `release()`, after which reads go
    to the pool. A cached hit's two reads then take and give back a connection once, not twice. `release()`
    must come before anything that takes more connections from the pool (execution), which could otherwise
    wait for this one. A read that meets a lost connection is tried once more, as the pool's are."""

    def __init__(self, pool: ReadPool) -> None:
        self.pool = pool
        self._connection: Any = None
        self._released = False

    async def fetchrow(self, query: str, *args: Any) -> Any:
        if self._released:
            return await self.pool.fetchrow(query, *args)
        try:
            if self._connection is None:
                self._connection = await self.pool.acquire()
            return await self._connection.fetchrow(query, *args)
        except Exception as e:
            await self.release()
            await self.pool.lost(e, query)
        return await self.pool.read_again("fetchrow", query, *args)

    async def release(self) -> None:
        self._released = True
        connection, self._connection = self._connection, None
        if connection is not None:
            await self.pool.release(connection)


async def open_read_pool(connect_args: dict[str, Any], **options: Any) -> ReadPool:
    """A ReadPool, opened, with `asyncpg.create_pool`'s defaults for what `options` leaves out."""
    defaults: dict[str, Any] = {
        "max_queries": 50000,
        "max_inactive_connection_lifetime": 300.0,
        "loop": None,
        "connection_class": asyncpg.Connection,
        "record_class": asyncpg.Record,
    }
    pool: ReadPool = await ReadPool(**connect_args, **(defaults | options))
    return pool
