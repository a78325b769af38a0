"""The GraphQL schema, built once per process.

The types and resolvers here are plain: they answer every query correctly on
their own. The execution speed-ups (service/speedups/) are installed on the
built schema by the app, unless turned off.
"""

from __future__ import annotations

import decimal
from typing import Any

import strawberry
from graphql import GraphQLError
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import AddValidationRules
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from service.limits import LimitConfig, limits_extension
from service.schema.audit import AuditQuery
from service.schema.mutations import Mutation
from service.schema.queries import Query
from service.schema.scalars import DecimalScalar
from service.schema.subscriptions import Subscription
from service.schema.transport import SubscriptionsOverWebSocket


class LedgerSchema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        # Expected errors are answers, not incidents; unexpected ones are logged
        # with their request id where they are masked (service/http.py).
        return None


# Built once: a rule class made per request would defeat the validation cache.
LIMITS = limits_extension(LimitConfig())


class NoIntrospection(AddValidationRules):
    def __init__(self, *, execution_context: Any = None) -> None:
        super().__init__([NoSchemaIntrospectionCustomRule])


def build_schema(*, introspection: bool = True) -> strawberry.Schema:
    """The schema; production mode turns introspection off."""
    # The limits first: they refuse a document with too many tokens before anything parses it.
    extensions: list[Any] = [LIMITS, SubscriptionsOverWebSocket]
    if not introspection:
        extensions.append(NoIntrospection)
    return LedgerSchema(
        query=merge_types("Query", (Query, AuditQuery)),
        mutation=Mutation,
        subscription=Subscription,
        config=StrawberryConfig(scalar_map={decimal.Decimal: DecimalScalar}),
        extensions=extensions,
    )


def schema_sdl() -> str:
    """The schema as served, for schema.graphql."""
    return build_schema().as_str() + "\n"
