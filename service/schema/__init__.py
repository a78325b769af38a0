"""The GraphQL schema, built once per process."""

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
from service.schema import mutations
from service.schema.audit import AuditQuery
from service.schema.fast_inputs import speed_up
from service.schema.lean_resolvers import lighten
from service.schema.mutations import Mutation
from service.schema.queries import Query
from service.schema.scalars import DecimalScalar
from service.schema.shared_results import SharedResultsExecutionContext
from service.schema.short_caches import ShortParserCache, ShortValidationCache
from service.schema.subscriptions import Subscription
from service.schema.transport import SubscriptionsOverWebSocket


class LedgerSchema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        # Expected errors are answers, not incidents; unexpected ones are logged
        # with their request id where they are masked (service/http.py).
        return None


# Documents each process keeps parsed and validated (of up to short_caches.LONGEST characters).
PARSED_DOCUMENTS = 256
# Built once: a rule class made per request would defeat the validation cache.
LIMITS = limits_extension(LimitConfig())


class NoIntrospection(AddValidationRules):
    def __init__(self, *, execution_context: Any = None) -> None:
        super().__init__([NoSchemaIntrospectionCustomRule])


def build_schema(*, introspection: bool = True) -> strawberry.Schema:
    """The schema; production mode turns introspection off."""
    extensions: list[Any] = [
        LIMITS,  # first: it refuses a document with too many tokens before ParserCache parses it
        lambda: ShortParserCache(maxsize=PARSED_DOCUMENTS),
        lambda: ShortValidationCache(maxsize=PARSED_DOCUMENTS),
        SubscriptionsOverWebSocket,
    ]
    if not introspection:
        extensions.append(NoIntrospection)
    schema = LedgerSchema(
        query=merge_types("Query", (Query, AuditQuery)),
        mutation=Mutation,
        subscription=Subscription,
        config=StrawberryConfig(scalar_map={decimal.Decimal: DecimalScalar}),
        extensions=extensions,
        # A live subscription message is executed once per operation, not once per subscriber; plain fields
        # are completed without graphql-core's per-field machinery (fast_fields.py).
        execution_context_class=SharedResultsExecutionContext,
    )
    # Resolvers without arguments or extensions called directly, not through strawberry's wrapper.
    lighten(schema)
    # Mutation inputs built from a field table made once, not converted field by field each time.
    speed_up(*mutations.INPUTS)
    return schema


def schema_sdl() -> str:
    """The schema as served, for schema.graphql."""
    return build_schema().as_str() + "\n"
