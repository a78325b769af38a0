"""OpenTelemetry traces, off by default: `ML_OPENTELEMETRY=1` gives each GraphQL operation a span, with its
parsing and validation as children, under the trace of the request's W3C `traceparent` when it sent one.

The spans go to the process's tracer provider: run the service under `opentelemetry-instrument` (from
`opentelemetry-distro`, with the exporter of your choice, configured by the `OTEL_*` variables), or set a
provider before the app starts. Without one, OpenTelemetry's API makes them at almost no cost and keeps
none. Resolvers get no span of their own: a dashboard resolves thousands of fields, and a span each would
cost more than the query.

OpenTelemetry is optional (`pip install 'measure-ledger[opentelemetry]'`): with the switch on and the packages
missing, the service refuses to start, saying so.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from strawberry.extensions import SchemaExtension

MISSING = (
    "ML_OPENTELEMETRY=1 needs the OpenTelemetry packages, which are not installed:"
    " pip install 'measure-ledger[opentelemetry]' (opentelemetry-api and opentelemetry-sdk), or unset ML_OPENTELEMETRY"
)


class TracingUnavailable(RuntimeError):
    """The switch is on and OpenTelemetry is not installed."""

    def __init__(self) -> None:
        super().__init__(MISSING)


def available() -> None:
    """Raise TracingUnavailable unless OpenTelemetry's API can be imported."""
    try:
        import opentelemetry.propagate  # noqa: F401
        import opentelemetry.trace  # noqa: F401
    except ImportError:
        raise TracingUnavailable() from None


def operation_spans() -> type[SchemaExtension]:
    """Strawberry's OpenTelemetry extension, without a span per resolved field."""
    available()
    from strawberry.extensions.tracing import OpenTelemetryExtension

    class OperationSpans(OpenTelemetryExtension):
        # The base class's own: Strawberry adds no per-field middleware for an extension that keeps it.
        resolve = SchemaExtension.resolve  # type: ignore[assignment]

    return OperationSpans


def continue_trace(headers: Mapping[str, str]) -> Callable[[], None]:
    """Make the request's trace context (its `traceparent`, `tracestate`) current; returns what undoes it."""
    from opentelemetry import context, propagate

    token: Any = context.attach(propagate.extract(headers))
    return lambda: context.detach(token)
