"""The GraphQL schema, built once per process."""

from __future__ import annotations

import decimal

import strawberry
from graphql import GraphQLError
from strawberry.extensions import ParserCache, ValidationCache
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from service.schema.audit import AuditQuery
from service.schema.mutations import Mutation
from service.schema.queries import Query
from service.schema.scalars import DecimalScalar
from service.schema.shared_results import SharedResultsExecutionContext
from service.schema.subscriptions import Subscription
from service.schema.transport import SubscriptionsOverWebSocket


class LedgerSchema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        # Expected errors are answers, not incidents; unexpected ones are logged
        # with their request id where they are masked (service/http.py).
        return None


def build_schema() -> strawberry.Schema:
    return LedgerSchema(
        query=merge_types("Query", (Query, AuditQuery)),
        mutation=Mutation,
        subscription=Subscription,
        config=StrawberryConfig(scalar_map={decimal.Decimal: DecimalScalar}),
        extensions=[lambda: ParserCache(maxsize=256), lambda: ValidationCache(maxsize=256), SubscriptionsOverWebSocket],
        # A live subscription message is executed once per operation, not once per subscriber.
        execution_context_class=SharedResultsExecutionContext,
    )


def schema_sdl() -> str:
    """The schema as served, for schema.graphql."""
    return build_schema().as_str() + "\n"
