"""Prometheus metrics: what `/metrics` serves, and the hooks the rest of the service calls.

Everything `prometheus_client` is here. The other modules count in their own terms (a feed's subscribers and
how many fell behind, the response cache's evictions, whether this process leads the projection) and this
module reads those numbers when it samples; only three hooks are called from elsewhere: a GraphQL request
answered (service/http.py), a webhook attempt made (service/webhooks/worker.py), and a process to sample.
A process with an event loop samples its objects with service/metrics_sampler.py, and a web process answers
scrapes with service/metrics_endpoint.py; this module loads neither the database driver nor the web framework,
so that the projector, which samples only itself, stays small.

**Several processes.** `serve` runs web workers, a projector and a webhook dispatcher as separate processes.
It points them all at one folder (prometheus-client's multiprocess mode, `PROMETHEUS_MULTIPROC_DIR`), so
whichever web process answers a scrape reports the whole service: counters and histograms summed over every
process, a process's state (subscribers, pool, leadership) summed over the live ones. Each process samples its
state every `SAMPLE_SECONDS`, and the one scraped samples its own at once. A process that ends cleanly takes
its state with it; one killed outright leaves its last sample until `serve` starts again. Without that folder
(a process started by hand, or the tests' in-process servers) each process reports itself alone.

Numbers read from PostgreSQL (the read model's position, the ledger's, the events behind and the lag, whether
some process leads) are the same from every process: each samples them, and the most recent sample is reported.
"""

from __future__ import annotations

import functools
import os
import re
import threading
from collections.abc import Iterable
from typing import Any, Final

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
    multiprocess,
    values,
)
from prometheus_client.registry import Collector

from projections import runner
from projections.stall import Stop

SAMPLE_SECONDS: Final = 5.0
# Operation names are the clients' to choose: past this many distinct ones a process counts the rest as "other".
MAX_OPERATIONS: Final = 200
_OPERATION = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,63}")
# A document's first named operation, when the request names none (Apollo Client and GraphiQL always do).
_NAMED = re.compile(r"\b(?:query|mutation|subscription)\s+([_A-Za-z][_0-9A-Za-z]*)")

REGISTRY: Final = CollectorRegistry(auto_describe=True)


def _gauge(name: str, documentation: str, mode: Any, labels: tuple[str, ...] = ()) -> Gauge:
    """A gauge of this module's registry; `mode` says how serve's processes' values add up."""
    return Gauge(name, documentation, labels, multiprocess_mode=mode, registry=REGISTRY)


REQUESTS: Final = Counter(
    "ml_graphql_requests",
    "GraphQL requests over HTTP, by operation name and outcome: ok, or the first error's extensions.code.",
    ["operation", "outcome"],
    registry=REGISTRY,
)
LATENCY: Final = Histogram(
    "ml_graphql_request_duration_seconds",
    "Time from a GraphQL request's arrival to its answer, by operation name.",
    ["operation"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)
CACHE_LOOKUPS: Final = Counter(
    "ml_response_cache_lookups",
    "Cacheable GraphQL requests, by result: hit (served from the response cache) or miss (executed).",
    ["result"],
    registry=REGISTRY,
)
CACHE_EVICTIONS: Final = Counter(
    "ml_response_cache_evictions",
    "Results pushed out of the response cache to stay within its size.",
    registry=REGISTRY,
)
CACHE_ENTRIES: Final = _gauge("ml_response_cache_entries", "Results in the response cache.", "livesum")
CACHE_BYTES: Final = _gauge("ml_response_cache_bytes", "Bytes held by the response cache.", "livesum")
POSITION: Final = _gauge(
    "ml_projection_position", "The ledger position the read model has projected up to.", "mostrecent"
)
LEDGER_POSITION: Final = _gauge("ml_ledger_position", "The last position recorded in the ledger.", "mostrecent")
BEHIND: Final = _gauge(
    "ml_projection_events_behind", "Events recorded that the read model has yet to project.", "mostrecent"
)
LAG: Final = _gauge(
    "ml_projection_lag_seconds",
    "How long ago the oldest event not yet projected was recorded; 0 when none waits.",
    "mostrecent",
)
PROJECTION_LED: Final = _gauge(
    "ml_projection_led", "1 while some process (of any machine) holds the projection leader's lock.", "mostrecent"
)
DISPATCH_LED: Final = _gauge(
    "ml_webhook_dispatcher_led",
    "1 while some process (of any machine) holds the webhook dispatcher's lock.",
    "mostrecent",
)
PROJECTION_LEADER: Final = _gauge(
    "ml_projection_leader", "1 in the process leading the projection (summed over this service's processes).", "livesum"
)
DISPATCH_LEADER: Final = _gauge(
    "ml_webhook_dispatcher_leader",
    "1 in the process leading the webhook deliveries (summed over this service's processes).",
    "livesum",
)
SUBSCRIBERS: Final = _gauge(
    "ml_subscribers", "Live subscribers of each feed (status_changes, audit_entries).", "livesum", ("feed",)
)
BUFFERED: Final = _gauge(
    "ml_subscriber_buffered_messages", "Messages waiting in subscribers' buffers, by feed.", "livesum", ("feed",)
)
FULLEST: Final = _gauge(
    "ml_subscriber_buffer_fullest_ratio",
    "The fullest subscriber buffer of each feed, as a share of ML_SUBSCRIPTION_BUFFER (at 1 it is closed).",
    "livemax",
    ("feed",),
)
FELL_BEHIND: Final = Counter(
    "ml_subscribers_fell_behind",
    "Subscribers closed with LIMIT_EXCEEDED because their buffer overflowed, by feed.",
    ["feed"],
    registry=REGISTRY,
)
WEBSOCKETS: Final = _gauge("ml_websocket_connections", "Open graphql-transport-ws connections.", "livesum")
WEBSOCKET_OPERATIONS: Final = _gauge("ml_websocket_operations", "Operations running over WebSockets.", "livesum")
WEBHOOK_ATTEMPTS: Final = Counter(
    "ml_webhook_deliveries",
    "Webhook delivery attempts, by outcome: delivered (a 2xx answer) or failed (tried again later).",
    ["outcome"],
    registry=REGISTRY,
)
WEBHOOK_SECONDS: Final = Histogram(
    "ml_webhook_delivery_duration_seconds",
    "How long a receiver took to answer a delivery attempt, connecting included.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
    registry=REGISTRY,
)
POOL_CONNECTIONS: Final = _gauge(
    "ml_db_pool_connections",
    "Connections open in the web processes' asyncpg read pools: the primary's, and each standby's.",
    "livesum",
    ("pool",),
)
POOL_IN_USE: Final = _gauge(
    "ml_db_pool_connections_in_use", "Connections of the asyncpg read pools lent out now.", "livesum", ("pool",)
)
POOL_MAX: Final = _gauge(
    "ml_db_pool_max_connections",
    "The most connections the asyncpg read pools may open (ML_POOL_SIZE per web process and database).",
    "livesum",
    ("pool",),
)
IN_ROTATION: Final = _gauge(
    "ml_replica_in_rotation",
    "1 while a standby of ML_READ_DATABASE_URLS is read from (0 if any web process has it out of rotation).",
    "livemin",
    ("replica",),
)
REPLICA_LAG: Final = _gauge(
    "ml_replica_lag_seconds",
    "How far a standby's replay is behind the primary's position, in seconds (the most any web process sees).",
    "livemax",
    ("replica",),
)
REPLICA_READS: Final = Counter(
    "ml_replica_reads", "Requests whose reads were sent to a standby.", ["replica"], registry=REGISTRY
)
REPLICA_FALLBACKS: Final = Counter(
    "ml_replica_fallbacks",
    "Reads meant for a standby that went to the primary (no standby in rotation had the position in time).",
    registry=REGISTRY,
)
MEMORY: Final = _gauge(
    "ml_process_resident_memory_bytes", "Resident memory of each of the service's processes, by pid.", "liveall"
)

_operations: set[str] = set()


def multiprocess_mode() -> bool:
    """Whether this process writes its metrics to the folder shared by the service's processes."""
    return values.ValueClass is not values.MutexValue


def operation_label(name: str | None, query: str | None) -> str:
    """The operation a request is counted under: its name, bounded in length and number."""
    if not name and query:
        name = _named_in(query)
    if not name:
        return "anonymous"
    if not _OPERATION.fullmatch(name):
        return "other"
    if name not in _operations:
        if len(_operations) >= MAX_OPERATIONS:
            return "other"
        _operations.add(name)
    return name


@functools.lru_cache(maxsize=256)
def _named_in(query: str) -> str | None:
    """The name an unnamed request's document gives its operation, if any (clients send the same few again)."""
    found = _NAMED.search(query)
    return found.group(1) if found else None


@functools.lru_cache(maxsize=1024)
def _answered_series(operation: str, outcome: str) -> tuple[Any, Any]:
    # Both label sets are bounded (MAX_OPERATIONS names, a few outcomes): the children are looked up once each.
    return REQUESTS.labels(operation, outcome), LATENCY.labels(operation)


@functools.lru_cache(maxsize=2)
def _cache_lookups(state: str) -> Any:
    return CACHE_LOOKUPS.labels(state)


def graphql_answered(operation: str, outcome: str, seconds: float, cache: str | None) -> None:
    """Hook: a GraphQL request over HTTP was answered (`cache`: its x-cache header, if it was cacheable)."""
    requests, latency = _answered_series(operation, outcome)
    requests.inc()
    latency.observe(seconds)
    if cache in ("hit", "miss"):
        _cache_lookups(cache).inc()


def dispatcher_leading(leading: bool) -> None:
    """Hook: this process began or ended leading the webhook deliveries."""
    DISPATCH_LEADER.set(1 if leading else 0)


def webhook_attempted(delivered: bool, seconds: float) -> None:
    """Hook: a webhook delivery attempt ended."""
    WEBHOOK_ATTEMPTS.labels("delivered" if delivered else "failed").inc()
    WEBHOOK_SECONDS.observe(seconds)


_PROCESS: Final = ProcessCollector(registry=None)


def sample_process() -> None:
    """This process's leadership and memory, into the gauges; every process's sampler starts here."""
    PROJECTION_LEADER.set(1 if runner.leading() else 0)
    for family in _PROCESS.collect():
        if family.name == "process_resident_memory_bytes" and family.samples:
            MEMORY.set(family.samples[0].value)


def sample_in_thread(stop: Stop) -> threading.Thread | None:
    """In a process with no event loop of its own to sample from (`measure-ledger project`): its leadership
    and memory, every SAMPLE_SECONDS, in a daemon thread; None when its metrics would reach no scrape."""
    if not multiprocess_mode():
        return None

    def run() -> None:
        while not stop.is_set():
            sample_process()
            stop.wait(SAMPLE_SECONDS)

    thread = threading.Thread(target=run, name="metrics", daemon=True)
    thread.start()
    return thread


def process_ended() -> None:
    """Take this process's state out of the service's totals (multiprocess mode); nothing otherwise."""
    if multiprocess_mode():
        multiprocess.mark_process_dead(os.getpid())


class _Collectors(Collector):
    """Several collectors as one."""

    def __init__(self, collectors: Iterable[Collector]) -> None:
        self.collectors = list(collectors)

    def collect(self) -> Iterable[Any]:
        for collector in self.collectors:
            yield from collector.collect()


def exposition_registry() -> CollectorRegistry:
    """What a scrape reads: every process's metrics in multiprocess mode, else this process's with its own
    process_* figures (CPU, memory, file descriptors)."""
    registry = CollectorRegistry(auto_describe=False)
    if multiprocess_mode():
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_Collectors([REGISTRY, ProcessCollector(registry=None)]))
    return registry


def exposition() -> tuple[bytes, str]:
    """The metrics in Prometheus' text format, and its content type."""
    return generate_latest(exposition_registry()), CONTENT_TYPE_LATEST
