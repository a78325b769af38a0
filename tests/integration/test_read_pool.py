"""The read pool puts a connection with nothing to undo back at once, and one with an open transaction as
asyncpg does, rolled back; either way the next read gets it, as it was when first handed out."""

from __future__ import annotations

import asyncio

from service.pools import asyncpg_args, keep_session
from service.read_pool import RELEASE_CODE, open_read_pool, release_code


def test_asyncpg_releases_connections_as_when_the_read_pool_was_written() -> None:
    assert release_code() == RELEASE_CODE, (
        "asyncpg's release code changed, so the read pool now releases every connection through it (slower): "
        "re-read it, update ReadPool.release, then RELEASE_CODE"
    )


def test_a_connection_is_put_back_for_the_next_read(database_url: str) -> None:
    async def run() -> None:
        pool = await open_read_pool(asyncpg_args(database_url), min_size=1, max_size=1, reset=keep_session)
        try:
            backends = set()
            for n in range(5):
                # One connection in the pool: a connection not put back would leave the next read waiting.
                async with asyncio.timeout(10):
                    assert await pool.fetchval("SELECT $1::int", n) == n
                    backends.add(await pool.fetchval("SELECT pg_backend_pid()"))
            assert len(backends) == 1
            async with asyncio.timeout(10), pool.acquire() as connection:
                await connection.execute("BEGIN")
                await connection.execute("CREATE TEMP TABLE left_open (x int)")
            async with asyncio.timeout(10), pool.acquire() as connection:
                assert not connection.is_in_transaction()
                assert await connection.fetchval("SELECT to_regclass('pg_temp.left_open')") is None
            async with asyncio.timeout(10):
                assert await pool.fetchval("SELECT pg_backend_pid()") in backends
        finally:
            async with asyncio.timeout(10):
                await pool.close()

    asyncio.run(run())
