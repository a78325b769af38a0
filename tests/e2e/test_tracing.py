"""ML_OPENTELEMETRY=1: a span for each GraphQL operation, in the trace the request's `traceparent` names."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from service.app import create_app
from service.auth.tokens import create_token
from service.settings import Settings
from service.tracing import MISSING
from tests.e2e.live import LiveServer

TRACE, PARENT = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"


@pytest.fixture(scope="module")
def spans() -> InMemorySpanExporter:
    """This process's tracer provider (set once per process), keeping its spans in memory."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return exporter


@pytest.fixture
def traced(database_url: str, spans: InMemorySpanExporter) -> Iterator[LiveServer]:
    settings = Settings.from_env({"DATABASE_URL": database_url, "ML_LOAD_DEMO": "0", "ML_OPENTELEMETRY": "1"})
    live = LiveServer(create_app(settings)).start()
    spans.clear()
    yield live
    live.stop()


def test_an_operation_is_a_span_in_the_trace_of_its_traceparent(
    traced: LiveServer, database_url: str, spans: InMemorySpanExporter
) -> None:
    token = create_token(database_url, "ops@stockton.gov.uk")
    answered = httpx.post(
        traced.url + "/graphql",
        json={"query": "query Dashboard { plans { id title themes { code } } }"},
        headers={"authorization": f"Bearer {token}", "traceparent": f"00-{TRACE}-{PARENT}-01"},
        timeout=30,
    )
    assert answered.status_code == 200 and "errors" not in answered.json()
    finished = spans.get_finished_spans()
    operation = next(s for s in finished if s.name == "GraphQL Query: Dashboard")
    assert operation.context is not None and operation.parent is not None
    assert f"{operation.context.trace_id:032x}" == TRACE
    assert f"{operation.parent.span_id:016x}" == PARENT
    children = {s.name for s in finished if s.parent is not None and s.parent.span_id == operation.context.span_id}
    assert {"GraphQL Parsing", "GraphQL Validation"} <= children
    # No span per resolved field: a dashboard resolves thousands.
    assert not [s.name for s in finished if "Resolving" in s.name]


def without_opentelemetry(code: str) -> subprocess.CompletedProcess[str]:
    """Python `code` run with the switch on where an import of OpenTelemetry fails, as when it is not installed."""
    env = {**os.environ, "ML_OPENTELEMETRY": "1", "DATABASE_URL": "postgresql://127.0.0.1:1/none"}
    script = "import sys; sys.modules['opentelemetry'] = None; " + code
    return subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)


def test_the_switch_without_opentelemetry_installed_is_refused_in_one_line() -> None:
    served = without_opentelemetry("from service.cli import main; sys.exit(main(['serve']))")
    assert served.returncode == 2
    assert served.stderr.strip() == f"measure-ledger: {MISSING}"
    made = without_opentelemetry("from service.app import create_app; create_app()")
    assert made.returncode == 1
    assert f"service.tracing.TracingUnavailable: {MISSING}" in made.stderr
