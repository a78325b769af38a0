"""How the service connects to PostgreSQL through asyncpg: connection arguments and the pools' release policy."""

from __future__ import annotations

from typing import Any

import asyncpg
import psycopg.conninfo


def asyncpg_args(database_url: str) -> dict[str, Any]:
    """asyncpg's connect() arguments for a libpq URL or key=value string."""
    parts = psycopg.conninfo.conninfo_to_dict(database_url)
    args: dict[str, Any] = {
        "host": parts.get("host") or "127.0.0.1",
        "port": int(parts.get("port") or 5432),
        "user": parts.get("user") or "postgres",
        "database": parts.get("dbname") or "postgres",
    }
    if parts.get("password"):
        args["password"] = parts["password"]
    return args


async def keep_session(connection: asyncpg.Connection) -> None:
    """What the read pool does to a connection it takes back, beyond rolling back an open transaction: nothing.

    asyncpg's default sends `SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL` on every
    release, a round trip per query for a state this service never leaves behind: its pooled connections run
    single statements or transactions (asyncpg itself rolls back one left open, and drops listeners), never
    SET, LISTEN (service/positions.py has a connection of its own) or session advisory locks. Skipping it
    takes one round trip in two off a cached read. Whoever adds session state to the pool must undo it.
    """
    return None
