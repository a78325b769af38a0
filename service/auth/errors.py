"""Errors of authentication and authorization, shaped as the API contract asks.

The GraphQL errors are built here rather than with `service.schema.errors.error`
so that this package never imports the schema package (which imports the
token store, which imports this package): the shape is the same, a message
and `extensions.code`.
"""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError


class AuthenticationError(Exception):
    """Credentials were presented but are not acceptable; `reason` says why, for the client."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def coded(code: str, message: str, **extensions: Any) -> GraphQLError:
    """A GraphQL error with `extensions.code` (one of README.md's, "Using the API") and any extra keys."""
    return GraphQLError(message, extensions={"code": code, **extensions})


def unauthenticated(reason: str) -> GraphQLError:
    """UNAUTHENTICATED, for a missing credential or one refused by `authenticate`."""
    return coded("UNAUTHENTICATED", reason)
