"""API tokens: a name and a secret; only the secret's SHA-256 is stored.

Tokens look like `mlt_<prefix>_<secret>` so a leaked one is easy to spot and
its prefix identifies it without revealing it.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

import asyncpg
import psycopg

DDL = """CREATE TABLE IF NOT EXISTS api_tokens (
    prefix text PRIMARY KEY,
    token_hash text NOT NULL UNIQUE,
    principal text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
)"""


@dataclass(frozen=True)
class Principal:
    """Who is calling; recorded as the actor of every event they cause."""

    name: str


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(conninfo: str, principal: str) -> str:
    """Mint a token for `principal`; the only time the secret is shown."""
    name = principal.strip()
    if not name or len(name) > 200:
        raise ValueError("the token's name must be 1 to 200 characters")
    prefix = secrets.token_hex(4)
    token = f"mlt_{prefix}_{secrets.token_urlsafe(32)}"
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(DDL)
        conn.execute(
            "INSERT INTO api_tokens (prefix, token_hash, principal) VALUES (%s, %s, %s)",
            (prefix, _hash(token), name),
        )
    return token


async def ensure_table(pool: asyncpg.Pool) -> None:
    await pool.execute(DDL)


async def authenticate(pool: asyncpg.Pool, token: str) -> Principal | None:
    """The principal a live token belongs to, or None."""
    if not token.startswith("mlt_") or len(token) > 200:
        return None
    name = await pool.fetchval(
        "SELECT principal FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL", _hash(token)
    )
    return Principal(name) if name else None


def principal_of(conninfo: str, token: str) -> Principal | None:
    """The principal a live token belongs to, for the command line."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(DDL)
        row = conn.execute(
            "SELECT principal FROM api_tokens WHERE token_hash = %s AND revoked_at IS NULL", (_hash(token),)
        ).fetchone()
    return Principal(row[0]) if row else None
