"""Subscriptions travel over WebSocket only."""

from __future__ import annotations

from collections.abc import Iterator

from graphql import ExecutionResult
from starlette.websockets import WebSocket
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from service.schema.errors import error


class SubscriptionsOverWebSocket(SchemaExtension):
    """Answer a subscription sent over HTTP with an error instead of executing it.

    Strawberry executes a subscription POSTed as plain JSON like a query, with
    no event to resolve, which fails as an internal error.
    """

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        if context.operation_type is OperationType.SUBSCRIPTION and not isinstance(
            getattr(context.context, "request", None), WebSocket
        ):
            # A result set before execution makes Strawberry skip it.
            context.result = ExecutionResult(
                data=None,
                errors=[
                    error("VALIDATION", "subscriptions are served over WebSocket (graphql-transport-ws) on /graphql")
                ],
            )
        yield
