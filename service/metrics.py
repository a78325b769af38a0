"""Prometheus metrics: what `/metrics` serves, and the hooks the rest of the service calls.

Everything `prometheus_client` is here. The other modules count in their own terms (a feed's subscribers and
how many fell behind, the response cache's evictions, whether this process leads the projection) and this
module reads those numbers when it samples; only three hooks are called from elsewhere: a GraphQL request
answered (service/http.py), a webhook attempt made (service/webhooks/worker.py), and a process to sample.

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

import asyncio
import contextlib
import functools
import logging
import os
import re
import threading
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any, Final

import asyncpg
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
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from projections import runner
from projections.stall import Stop
from service import read_model
from service.auth.authenticate import authenticate, bearer_from_header
from service.auth.errors import AuthenticationError
from service.auth.principal import Role

log = logging.getLogger(__name__)

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


@dataclass(frozen=True)
class Positions:
    """What PostgreSQL says of the projection, the same from every process."""

    position: int
    recorded: int
    projection_led: bool
    dispatch_led: bool
    lag_seconds: float | None


@dataclass
class Sampler:
    """Copies one process's state into the gauges: its leadership and memory, and, in a web process, what its
    `Services` hold (pool, feeds, response cache, WebSockets) and what PostgreSQL says of the projection."""

    services: Any = None  # service.schema.context.Services, once the app has started
    cache: Any = None  # service.response_cache.ResponseCache, when the cache is on
    websockets: Collection[Any] = ()  # this process's open WebSocket connections (service/ws.py)
    dispatcher_lock: int | None = None  # the webhook dispatcher leader's advisory lock (service/webhooks/tables.py)
    # Counters kept by the service's own objects, as last copied: only what has happened since is added.
    _seen: dict[tuple[str, str], int] = field(default_factory=dict)
    _process: ProcessCollector = field(default_factory=lambda: ProcessCollector(registry=None))

    def sample_process(self) -> None:
        PROJECTION_LEADER.set(1 if runner.leading() else 0)
        for family in self._process.collect():
            if family.name == "process_resident_memory_bytes" and family.samples:
                MEMORY.set(family.samples[0].value)

    async def sample(self) -> None:
        """Everything this process knows, read from PostgreSQL too; a failed read leaves the last values."""
        self.sample_process()
        services = self.services
        if services is None:
            return
        self._sample_pool("primary", services.pool)
        self._sample_replicas(services.replicas)
        for feed in services.feeds.all():
            table = feed.source.table
            buffers = feed.buffers()
            SUBSCRIBERS.labels(table).set(len(buffers))
            BUFFERED.labels(table).set(sum(buffers))
            FULLEST.labels(table).set(max(buffers, default=0) / max(feed.capacity, 1))
            self._follow(FELL_BEHIND.labels(table), ("fell_behind", table), feed.fell_behind)
        connections = list(self.websockets)
        WEBSOCKETS.set(len(connections))
        WEBSOCKET_OPERATIONS.set(sum(len(c.operations) for c in connections))
        if self.cache is not None:
            stats = self.cache.stats()
            CACHE_ENTRIES.set(stats["entries"])
            CACHE_BYTES.set(stats["bytes"])
            self._follow(CACHE_EVICTIONS, ("evictions", ""), stats["evictions"])
        with contextlib.suppress(Exception):  # the database may be down: /metrics still answers
            self._sample_positions(await read_positions(services, self.dispatcher_lock))

    def _follow(self, counter: Any, key: tuple[str, str], total: int) -> None:
        added = total - self._seen.get(key, 0)
        if added > 0:
            counter.inc(added)
        self._seen[key] = total

    @staticmethod
    def _sample_pool(name: str, pool: asyncpg.Pool) -> None:
        size = pool.get_size()
        POOL_CONNECTIONS.labels(name).set(size)
        POOL_IN_USE.labels(name).set(size - pool.get_idle_size())
        POOL_MAX.labels(name).set(pool.get_max_size())

    def _sample_replicas(self, replicas: Any) -> None:
        for replica in replicas.replicas:
            self._sample_pool(replica.name, replica.pool)
            IN_ROTATION.labels(replica.name).set(1 if replica.in_rotation else 0)
            if replica.lag_seconds is not None:
                REPLICA_LAG.labels(replica.name).set(replica.lag_seconds)
            self._follow(REPLICA_READS.labels(replica.name), ("replica reads", replica.name), replica.reads)
        self._follow(REPLICA_FALLBACKS, ("replica fallbacks", ""), replicas.fallbacks)

    @staticmethod
    def _sample_positions(positions: Positions) -> None:
        POSITION.set(positions.position)
        LEDGER_POSITION.set(positions.recorded)
        BEHIND.set(max(0, positions.recorded - positions.position))
        PROJECTION_LED.set(1 if positions.projection_led else 0)
        DISPATCH_LED.set(1 if positions.dispatch_led else 0)
        if positions.lag_seconds is not None:
            LAG.set(positions.lag_seconds)

    async def sample_forever(self, stop: asyncio.Event) -> None:
        """Sample every SAMPLE_SECONDS until `stop` is set, so that another process's scrape sees this one."""
        while not stop.is_set():
            await self.sample()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), SAMPLE_SECONDS)


async def read_positions(services: Any, dispatcher_lock: int | None) -> Positions:
    ledger = services.ledger
    events_table = ledger.recorder.events_table_name
    position, recorded, led = await read_model.positions(services.pool, ledger.name, events_table)
    dispatch_led = dispatcher_lock is not None and await read_model.lock_held(services.pool, dispatcher_lock)
    lag: float | None = 0.0
    if recorded > position:
        lag = await read_model.oldest_unprojected_age(services.pool, events_table, position)
    return Positions(position, recorded, led, dispatch_led, lag)


def sample_in_thread(stop: Stop) -> threading.Thread | None:
    """In a process with no event loop of its own to sample from (`measure-ledger project`): its leadership
    and memory, every SAMPLE_SECONDS, in a daemon thread; None when its metrics would reach no scrape."""
    if not multiprocess_mode():
        return None
    sampler = Sampler()

    def run() -> None:
        while not stop.is_set():
            sampler.sample_process()
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


async def endpoint(request: Request, services: Any, sampler: Sampler) -> Response:
    """`GET /metrics` on the API port: for a bearer token (or JWT) with the admin role, as operator tokens have."""
    try:
        principal = await authenticate(
            services.pool, services.verifier, bearer_from_header(request.headers.get("authorization"))
        )
    except AuthenticationError as e:
        return _refused(401, f"not authenticated: {e.reason}", "UNAUTHENTICATED")
    except Exception:
        # The token is checked in the database; the metrics of a port of their own need none.
        log.warning("/metrics: the token could not be checked", exc_info=True)
        refusal = "the database cannot be reached to check the token (ML_METRICS_PORT needs none)"
        return _refused(503, refusal, "INTERNAL")
    if principal is None:
        return _refused(401, "the metrics need a bearer token with the admin role", "UNAUTHENTICATED")
    if Role.ADMIN not in principal.roles:
        return _refused(403, "the metrics are for tokens with the admin role", "FORBIDDEN")
    await sampler.sample()
    body, content_type = exposition()
    return Response(body, headers={"content-type": content_type, "cache-control": "no-store"})


def _refused(status: int, message: str, code: str) -> Response:
    headers = {"www-authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"errors": [{"message": message, "extensions": {"code": code}}]}, status, headers=headers)
