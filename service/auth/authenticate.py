"""One entry point for every credential: API tokens (`mlt_...`) and OpenID Connect JWTs.

`authenticate` returns None when no credential was presented and raises
`AuthenticationError` (with a reason the client can act on) when one was but
is unacceptable, so the caller can answer UNAUTHENTICATED with that reason
rather than silently treating the caller as anonymous.
"""

from __future__ import annotations

from collections.abc import Mapping

import asyncpg

from service.auth import tokens
from service.auth.errors import AuthenticationError
from service.auth.jwt import JwtVerifier
from service.auth.principal import Principal, public_principal

MAX_BEARER_LENGTH = 8192  # JWTs with many claims are long; anything longer is not a credential of ours


def bearer_from_header(value: str | None) -> str | None:
    """The credential of an `Authorization: Bearer ...` header, or None."""
    if not value or not value[:7].lower() == "bearer ":
        return None
    return value[7:].strip() or None


def bearer_from_params(params: object) -> str | None:
    """The credential of a graphql-transport-ws `connection_init` payload (authorization or token)."""
    if not isinstance(params, Mapping):
        return None
    raw = params.get("authorization") or params.get("Authorization") or params.get("token") or ""
    text = str(raw).strip()
    return bearer_from_header(text) or (text or None)


async def authenticate(pool: asyncpg.Pool, verifier: JwtVerifier | None, bearer: str | None) -> Principal | None:
    """The principal of a credential; None if there is none; AuthenticationError if it is refused."""
    if not bearer:
        return None
    token = bearer.strip()
    if len(token) > MAX_BEARER_LENGTH:
        raise AuthenticationError("the bearer token is too long")
    if token.startswith(tokens.PREFIX):
        found = await tokens.find_token(pool, token)
        if found is None:
            raise AuthenticationError("unknown API token")
        info, now = found
        status = info.status(now)
        if status == "revoked":
            raise AuthenticationError(f"the API token {info.prefix} has been revoked")
        if status == "expired":
            raise AuthenticationError(f"the API token {info.prefix} has expired")
        return info.principal()
    if token.count(".") == 2:
        if verifier is None:
            raise AuthenticationError("this server accepts API tokens only (no OpenID Connect is configured)")
        return await verifier.verify(token)
    raise AuthenticationError("the bearer token is neither an API token (mlt_...) nor a JWT")


async def principal_for(
    pool: asyncpg.Pool, verifier: JwtVerifier | None, bearer: str | None, *, public_read: bool = False
) -> Principal | None:
    """As `authenticate`, but a caller without credentials is the public reader when public_read is on."""
    principal = await authenticate(pool, verifier, bearer)
    if principal is None and public_read:
        return public_principal()
    return principal
