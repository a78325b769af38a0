"""API tokens on a real PostgreSQL: create, list, revoke, expiry, the hash at rest, the migration."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import psycopg
import psycopg.conninfo
import pytest

from service.auth import AuthenticationError, Role, tokens
from service.auth.authenticate import authenticate as authenticate_bearer
from service.auth.tokens import create_token, list_tokens, principal_of, revoke_token

STOCKTON = "Safer Stockton Partnership"


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    parts = psycopg.conninfo.conninfo_to_dict(database_url)
    made = await asyncpg.create_pool(
        host=parts.get("host") or "127.0.0.1",
        port=int(parts.get("port") or 5432),
        user=parts.get("user") or "postgres",
        password=parts.get("password") or None,
        database=parts.get("dbname"),
        min_size=1,
        max_size=2,
    )
    await tokens.ensure_table(made)
    yield made
    await made.close()


def rows(database_url: str) -> list[tuple[object, ...]]:
    with psycopg.connect(database_url) as conn:
        return conn.execute("SELECT * FROM api_tokens").fetchall()


async def test_a_bare_token_is_an_operator_of_every_partnership(database_url: str, pool: asyncpg.Pool) -> None:
    token = create_token(database_url, "alice@stockton.gov.uk")
    principal = await tokens.authenticate(pool, token)
    assert principal is not None
    assert principal.name == "alice@stockton.gov.uk"
    assert principal.partnership is None and principal.roles == {Role.ADMIN} and principal.kind == "token"


async def test_a_scoped_token_carries_its_grant(database_url: str, pool: asyncpg.Pool) -> None:
    token = create_token(
        database_url,
        "returns-bot",
        partnership=STOCKTON,
        roles=["submitter", Role.VIEWER],
        themes=["H"],
        measures=["5.1", "5.2"],
        expires_in=timedelta(days=90),
    )
    principal = await authenticate_bearer(pool, None, token)
    assert principal is not None
    assert principal.partnership == STOCKTON
    assert principal.roles == {Role.SUBMITTER, Role.VIEWER}
    assert principal.themes == {"H"} and principal.measures == {"5.1", "5.2"}


async def test_only_the_hash_is_stored_and_the_prefix_identifies_the_token(database_url: str) -> None:
    token = create_token(database_url, "alice", partnership=STOCKTON, roles=["viewer"])
    assert token.startswith("mlt_")
    prefix, secret = token[4:].split("_", 1)
    (stored,) = rows(database_url)
    assert hashlib.sha256(token.encode()).hexdigest() in stored
    assert not any(secret in str(value) for value in stored)
    (listed,) = list_tokens(database_url)
    assert listed.prefix == prefix and listed.name == "alice" and listed.roles == {Role.VIEWER}


async def test_list_tokens_by_partnership(database_url: str) -> None:
    create_token(database_url, "ops")
    create_token(database_url, "alice", partnership=STOCKTON, roles=["editor"])
    create_token(database_url, "harry", partnership="Hartlepool", roles=["viewer"])
    assert [t.name for t in list_tokens(database_url)] == ["ops", "alice", "harry"]
    assert [t.name for t in list_tokens(database_url, STOCKTON.lower())] == ["alice"]


async def test_revocation_takes_effect_at_once(database_url: str, pool: asyncpg.Pool) -> None:
    token = create_token(database_url, "alice", partnership=STOCKTON, roles=["editor"])
    assert await tokens.authenticate(pool, token) is not None
    assert revoke_token(database_url, token[4:12]) is True
    assert await tokens.authenticate(pool, token) is None
    assert principal_of(database_url, token) is None
    with pytest.raises(AuthenticationError) as e:
        await authenticate_bearer(pool, None, token)
    assert e.value.reason == f"the API token {token[4:12]} has been revoked"
    assert revoke_token(database_url, token[4:12]) is False  # already revoked
    (listed,) = list_tokens(database_url)
    assert listed.revoked_at is not None


async def test_a_partnership_admin_revokes_only_its_own_tokens(database_url: str) -> None:
    ours = create_token(database_url, "alice", partnership=STOCKTON, roles=["viewer"])
    operator = create_token(database_url, "ops")
    assert revoke_token(database_url, operator, partnership=STOCKTON) is False
    assert revoke_token(database_url, ours, partnership=STOCKTON) is True  # a whole token names its prefix too


async def test_expired_tokens_are_refused_at_once(database_url: str, pool: asyncpg.Pool) -> None:
    token = create_token(database_url, "alice", partnership=STOCKTON, roles=["viewer"], expires_in=timedelta(hours=1))
    assert await tokens.authenticate(pool, token) is not None
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("UPDATE api_tokens SET expires_at = now() - interval '1 second'")
    assert await tokens.authenticate(pool, token) is None
    assert principal_of(database_url, token) is None
    with pytest.raises(AuthenticationError, match=f"the API token {token[4:12]} has expired"):
        await authenticate_bearer(pool, None, token)


async def test_unknown_tokens_are_refused(pool: asyncpg.Pool) -> None:
    assert await tokens.authenticate(pool, "mlt_00000000_nope") is None
    assert await tokens.authenticate(pool, "not-a-token") is None
    with pytest.raises(AuthenticationError, match="unknown API token"):
        await authenticate_bearer(pool, None, "mlt_00000000_nope")


def test_create_token_checks_its_arguments(database_url: str) -> None:
    with pytest.raises(ValueError, match="unknown role 'owner'"):
        create_token(database_url, "x", roles=["owner"])
    with pytest.raises(ValueError, match="at least one role"):
        create_token(database_url, "x", roles=[])
    with pytest.raises(ValueError, match="positive"):
        create_token(database_url, "x", roles=["viewer"], expires_in=timedelta(0))
    with pytest.raises(ValueError, match="1 to 200 characters"):
        create_token(database_url, " ")


async def test_tokens_of_the_old_table_stay_operators(database_url: str) -> None:
    token = "mlt_0ld0ld00_secret-made-before-issue-6"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE api_tokens (prefix text PRIMARY KEY, token_hash text NOT NULL UNIQUE, "
            "principal text NOT NULL, created_at timestamptz NOT NULL DEFAULT now(), revoked_at timestamptz)"
        )
        conn.execute(
            "INSERT INTO api_tokens (prefix, token_hash, principal) VALUES (%s, %s, %s)",
            ("0ld0ld00", hashlib.sha256(token.encode()).hexdigest(), "demo@example.org"),
        )
        conn.execute(tokens.DDL)
        conn.execute(tokens.DDL)  # idempotent
    principal = principal_of(database_url, token)
    assert principal is not None and principal.partnership is None and principal.roles == {Role.ADMIN}
    # New rows must say their roles: the migration's default is gone.
    with psycopg.connect(database_url) as conn, pytest.raises(psycopg.errors.NotNullViolation):
        conn.execute("INSERT INTO api_tokens (prefix, token_hash, principal) VALUES ('x', 'y', 'z')")
