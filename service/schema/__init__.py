"""The GraphQL schema, built once per process from its features.

Each feature is a package with its `types.py` (object and input types built
from read-model rows), `queries.py` and `mutations.py` (thin resolvers: parse
the input, check access, make one call, map the result):

- plans/: plans and their themes;
- measures/: a measure's definition, components, baselines, figures and
  quarterly results (every type a measure shows), reading and (re)defining it;
- figures/: quarterly reporting on a measure: baselines, figures, commentary,
  status overrides;
- audit/: the audit trail and the hash chain's head;
- cycle/: the quarterly reporting cycle: owners, returns, collections, publications;
- subscriptions/: status changes and ledger events, replayed then live, and status changes paged;
- webhooks/: a partnership's webhooks and their delivery logs (the engine is service/webhooks/);
- reports/: signed links that open a plan's board report in a browser (service/report/).

A new feature is a package of its own beside these, merged into the root types
below. What features share is at this level: context.py (the caller, the pools,
the ledger), loaders.py (per-request DataLoaders), errors.py, enums.py,
scalars.py, pages.py (connections), ids.py (every object's `id`), cursors.py,
targets.py and access.py (what the access policy needs), as_of.py (time
travel), transport.py.

The types and resolvers are plain: they answer every query correctly on their
own. The execution speed-ups (service/speedups/) are installed on the built
schema by the app, unless turned off.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import strawberry
from graphql import GraphQLError
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import AddValidationRules, SchemaExtension
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from service.limits import LimitConfig, limits_extension
from service.schema.audit.queries import AuditQueries
from service.schema.cycle.mutations import CycleMutations
from service.schema.cycle.queries import CycleQueries
from service.schema.figures.mutations import FigureMutations
from service.schema.input_errors import explain
from service.schema.measures.mutations import MeasureMutations
from service.schema.measures.queries import MeasureQueries
from service.schema.plans.mutations import PlanMutations
from service.schema.plans.queries import PlanQueries
from service.schema.reports.queries import ReportQueries
from service.schema.scalars import SCALARS
from service.schema.subscriptions.queries import StatusChangeQueries
from service.schema.subscriptions.subscriptions import Subscription
from service.schema.transport import SubscriptionsOverWebSocket
from service.schema.webhooks.mutations import WebhookMutations
from service.schema.webhooks.queries import WebhookQueries


class LedgerSchema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        # Expected errors are answers, not incidents; unexpected ones are logged
        # with their request id where they are masked (service/http.py). Errors
        # about input values are explained in our words, in place: the list is
        # the result's own (service/schema/input_errors.py).
        if errors and execution_context is not None:
            errors[:] = explain(errors, self._schema, execution_context.graphql_document, execution_context.variables)


# Built once: a rule class made per request would defeat the validation cache.
LIMITS = limits_extension(LimitConfig())


class NoIntrospection(AddValidationRules):
    def __init__(self, *, execution_context: Any = None) -> None:
        super().__init__([NoSchemaIntrospectionCustomRule])


def build_schema(*, introspection: bool = True, tracing: Sequence[type[SchemaExtension]] = ()) -> strawberry.Schema:
    """The schema; production mode turns introspection off; `tracing`: extensions that trace operations."""
    # The limits first: they refuse a document with too many tokens before anything parses it.
    extensions: list[Any] = [LIMITS, SubscriptionsOverWebSocket, *tracing]
    if not introspection:
        extensions.append(NoIntrospection)
    return LedgerSchema(
        query=_root(
            "Query",
            "Reads. Each needs a bearer token (or public read mode) and says which role it needs; what a "
            "principal of one partnership reads is that partnership's.",
            (
                PlanQueries,
                MeasureQueries,
                AuditQueries,
                StatusChangeQueries,
                CycleQueries,
                WebhookQueries,
                ReportQueries,
            ),
        ),
        mutation=_root(
            "Mutation",
            "Writes. Each takes one `input` (its type says the role it needs), records one event, or none for a "
            "replayed idempotency key, and returns the object as it is after the write.",
            (PlanMutations, MeasureMutations, FigureMutations, CycleMutations, WebhookMutations),
        ),
        subscription=Subscription,
        config=StrawberryConfig(scalar_map=SCALARS),  # type: ignore[arg-type]
        extensions=extensions,
    )


def _root(name: str, description: str, features: tuple[type, ...]) -> type:
    """The root type holding these features' fields: strawberry's merge_types, with a description."""
    return strawberry.type(type(name, features, {}), description=description)


def schema_sdl() -> str:
    """The schema as served, for schema.graphql."""
    return build_schema().as_str() + "\n"
