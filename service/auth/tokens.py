"""API tokens: a name, a partnership, roles and an optional scope; only the secret's SHA-256 is stored.

Tokens look like `mlt_<prefix>_<secret>` so a leaked one is easy to spot and
its prefix identifies it (in `list_tokens`, `revoke_token`, logs) without
revealing it.

A *bare* token, made with `create_token(conninfo, name)` and no roles, is an
operator token: admin of every partnership. It is what `measure-ledger token
create` and the demo token of `serve` give, for operators and local
development; give people and integrations tokens with a partnership and the
least roles they need. `roles` without `partnership` grants those roles in
every partnership; `partnership` without `roles` makes an admin of it.

Tokens are checked against the table on every request, never cached, so a
revocation or an expiry takes effect at once.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import asyncpg
import psycopg

from service.auth.principal import Principal, Role, parse_roles

__all__ = [
    "Principal",
    "TokenInfo",
    "authenticate",
    "create_token",
    "ensure_table",
    "find_token",
    "list_tokens",
    "principal_of",
    "revoke_token",
]

PREFIX = "mlt_"
MAX_TOKEN_LENGTH = 200

_KNOWN_ROLES = ", ".join(f"'{r.value}'" for r in Role)

# The original table, then the columns that roles and partnerships added. Tokens made before the
# migration get roles {admin} and no partnership: they were all-powerful and
# stay so. The default is dropped straight after, so every new row must say
# its roles. The advisory lock serialises processes migrating at once; the
# check keeps later starts from taking ALTER TABLE's exclusive lock at all.
DDL = f"""DO $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('measure-ledger api_tokens'));
    CREATE TABLE IF NOT EXISTS api_tokens (
        prefix text PRIMARY KEY,
        token_hash text NOT NULL UNIQUE,
        principal text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        revoked_at timestamptz
    );
    IF NOT EXISTS (SELECT 1 FROM pg_attribute
                   WHERE attrelid = 'api_tokens'::regclass AND attname = 'expires_at' AND NOT attisdropped) THEN
        ALTER TABLE api_tokens ADD COLUMN IF NOT EXISTS partnership text;
        ALTER TABLE api_tokens ADD COLUMN IF NOT EXISTS roles text[] NOT NULL DEFAULT '{{admin}}';
        ALTER TABLE api_tokens ALTER COLUMN roles DROP DEFAULT;
        ALTER TABLE api_tokens ADD COLUMN IF NOT EXISTS themes text[];
        ALTER TABLE api_tokens ADD COLUMN IF NOT EXISTS measures text[];
        ALTER TABLE api_tokens ADD COLUMN IF NOT EXISTS expires_at timestamptz;
        ALTER TABLE api_tokens ADD CONSTRAINT api_tokens_roles_known
            CHECK (cardinality(roles) > 0 AND roles <@ ARRAY[{_KNOWN_ROLES}]::text[]);
    END IF;
END $$"""

_COLUMNS = "prefix, principal, partnership, roles, themes, measures, created_at, expires_at, revoked_at"

TokenStatus = Literal["live", "revoked", "expired"]


@dataclass(frozen=True)
class TokenInfo:
    """A stored token, without its secret (which is never stored)."""

    prefix: str
    name: str
    partnership: str | None
    roles: frozenset[Role]
    themes: frozenset[str] | None
    measures: frozenset[str] | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    def status(self, now: datetime) -> TokenStatus:
        if self.revoked_at is not None and self.revoked_at <= now:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "live"

    def principal(self) -> Principal:
        return Principal(self.name, self.partnership, self.roles, self.themes, self.measures, kind="token")


def _info(row: Sequence[Any]) -> TokenInfo:
    prefix, name, partnership, roles, themes, measures, created_at, expires_at, revoked_at = row
    return TokenInfo(
        prefix=prefix,
        name=name,
        partnership=partnership,
        roles=parse_roles(roles),
        themes=None if themes is None else frozenset(themes),
        measures=None if measures is None else frozenset(measures),
        created_at=created_at,
        expires_at=expires_at,
        revoked_at=revoked_at,
    )


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def prefix_of(token_or_prefix: str) -> str:
    """The prefix of a whole token, or the argument itself if it is already a prefix."""
    text = token_or_prefix.strip()
    if text.startswith(PREFIX):
        return text[len(PREFIX) :].split("_", 1)[0]
    return text


def _names(values: Iterable[str] | None, what: str) -> list[str] | None:
    if values is None:
        return None
    names = sorted({v.strip() for v in values})
    if any(not n or len(n) > 100 for n in names):
        raise ValueError(f"each of the token's {what} must be 1 to 100 characters")
    return names


def create_token(
    conninfo: str,
    name: str,
    *,
    partnership: str | None = None,
    roles: Iterable[str | Role] | None = None,
    themes: Iterable[str] | None = None,
    measures: Iterable[str] | None = None,
    expires_in: timedelta | None = None,
) -> str:
    """Mint a token; the only time its secret is shown. Without roles, an admin (see the module's doc)."""
    name = name.strip()
    if not name or len(name) > 200:
        raise ValueError("the token's name must be 1 to 200 characters")
    if partnership is not None and not partnership.strip():
        raise ValueError("the token's partnership must not be empty (None means every partnership)")
    granted = frozenset({Role.ADMIN}) if roles is None else parse_roles(roles)
    if not granted:
        raise ValueError("a token needs at least one role")
    if expires_in is not None and expires_in <= timedelta(0):
        raise ValueError("expires_in must be positive")
    theme_list, measure_list = _names(themes, "themes"), _names(measures, "measures")
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(DDL)
        for _ in range(5):  # the prefix is 32 random bits: a clash is rare, and retried
            prefix = secrets.token_hex(4)
            token = f"{PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
            try:
                conn.execute(
                    "INSERT INTO api_tokens (prefix, token_hash, principal, partnership, roles, themes, measures,"
                    " expires_at) VALUES (%s, %s, %s, %s, %s, %s, %s, now() + %s::interval)",
                    (
                        prefix,
                        _hash(token),
                        name,
                        partnership and partnership.strip(),
                        sorted(r.value for r in granted),
                        theme_list,
                        measure_list,
                        expires_in,
                    ),
                )
            except psycopg.errors.UniqueViolation:
                continue
            return token
    raise RuntimeError("could not find a free token prefix")


def revoke_token(conninfo: str, prefix: str, *, partnership: str | None = None) -> bool:
    """Revoke a token by its prefix (or the whole token) at once; False if no live token matched.

    With `partnership`, only a token of that partnership is revoked: what a
    partnership's admin may do (operator tokens have no partnership).
    """
    sql = "UPDATE api_tokens SET revoked_at = now() WHERE prefix = %s AND revoked_at IS NULL"
    params: list[Any] = [prefix_of(prefix)]
    if partnership is not None:
        sql += " AND lower(partnership) = lower(%s)"
        params.append(partnership)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(DDL)
        return conn.execute(sql + " RETURNING prefix", params).fetchone() is not None


def list_tokens(conninfo: str, partnership: str | None = None) -> list[TokenInfo]:
    """Every token (revoked and expired ones too), oldest first; only that partnership's if given."""
    sql = f"SELECT {_COLUMNS} FROM api_tokens"
    params: list[Any] = []
    if partnership is not None:
        sql += " WHERE lower(partnership) = lower(%s)"
        params.append(partnership)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(DDL)
        rows = conn.execute(sql + " ORDER BY created_at, prefix", params).fetchall()
    return [_info(row) for row in rows]


async def ensure_table(pool: asyncpg.Pool) -> None:
    """Create or migrate the table; call once at start-up."""
    await pool.execute(DDL)


def _plausible(token: str) -> bool:
    return token.startswith(PREFIX) and len(token) <= MAX_TOKEN_LENGTH


async def find_token(pool: asyncpg.Pool, token: str) -> tuple[TokenInfo, datetime] | None:
    """The stored token a secret belongs to, whatever its status, with the database's current time."""
    if not _plausible(token):
        return None
    row = await pool.fetchrow(f"SELECT {_COLUMNS}, now() FROM api_tokens WHERE token_hash = $1", _hash(token))
    if row is None:
        return None
    return _info(tuple(row)[:-1]), row[-1]


async def authenticate(pool: asyncpg.Pool, token: str) -> Principal | None:
    """The principal of a live token, or None if it is unknown, revoked or expired."""
    found = await find_token(pool, token)
    if found is None or found[0].status(found[1]) != "live":
        return None
    return found[0].principal()


def principal_of(conninfo: str, token: str) -> Principal | None:
    """The principal of a live token, for the command line."""
    if not _plausible(token):
        return None
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(DDL)
        row = conn.execute(
            f"SELECT {_COLUMNS}, now() FROM api_tokens WHERE token_hash = %s", (_hash(token),)
        ).fetchone()
    if row is None:
        return None
    info = _info(row[:-1])
    return info.principal() if info.status(row[-1]) == "live" else None
