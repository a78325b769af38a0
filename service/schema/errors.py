"""Expected failures become GraphQL errors with `extensions.code` and the field."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from graphql import GraphQLError

from domain.errors import ConflictError, DomainError, LockedError

CODES = ("UNAUTHENTICATED", "FORBIDDEN", "NOT_FOUND", "CONFLICT", "VALIDATION", "LOCKED", "LIMIT_EXCEEDED")


def error(code: str, message: str, field: str | None = None, **extra: Any) -> GraphQLError:
    extensions: dict[str, Any] = {"code": code}
    if field:
        extensions["field"] = field
    extensions.update(extra)
    return GraphQLError(message, extensions=extensions)


def from_domain(e: DomainError) -> GraphQLError:
    extra: dict[str, Any] = {}
    if isinstance(e, ConflictError):
        extra["currentVersion"] = e.current_version
    if isinstance(e, LockedError):
        extra["returnState"] = e.return_state
    return error(e.code, str(e), e.field, **extra)


def parse_id(raw: object, field: str) -> UUID:
    """An ID that must be one of ours: a UUID."""
    try:
        return UUID(str(raw))
    except ValueError:
        raise error("VALIDATION", f"{field}: {str(raw)[:60]!r} is not a valid id", field) from None
