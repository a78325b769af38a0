"""Sampling a process with an event loop: a web process's `Services` (pool, feeds, response cache, WebSockets)
and what PostgreSQL says of the projection, into the gauges of service/metrics.py.

Apart from service/metrics.py so that the processes with no event loop (the projector) load neither the
database driver nor the service's objects to count their own state.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from service import metrics, read_model

if TYPE_CHECKING:
    import asyncpg


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

    async def sample(self) -> None:
        """Everything this process knows, read from PostgreSQL too; a failed read leaves the last values."""
        metrics.sample_process()
        services = self.services
        if services is None:
            return
        self._sample_pool("primary", services.pool)
        self._sample_replicas(services.replicas)
        for feed in services.feeds.all():
            table = feed.source.table
            buffers = feed.buffers()
            metrics.SUBSCRIBERS.labels(table).set(len(buffers))
            metrics.BUFFERED.labels(table).set(sum(buffers))
            metrics.FULLEST.labels(table).set(max(buffers, default=0) / max(feed.capacity, 1))
            self._follow(metrics.FELL_BEHIND.labels(table), ("fell_behind", table), feed.fell_behind)
        connections = list(self.websockets)
        metrics.WEBSOCKETS.set(len(connections))
        metrics.WEBSOCKET_OPERATIONS.set(sum(len(c.operations) for c in connections))
        if self.cache is not None:
            stats = self.cache.stats()
            metrics.CACHE_ENTRIES.set(stats["entries"])
            metrics.CACHE_BYTES.set(stats["bytes"])
            self._follow(metrics.CACHE_EVICTIONS, ("evictions", ""), stats["evictions"])
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
        metrics.POOL_CONNECTIONS.labels(name).set(size)
        metrics.POOL_IN_USE.labels(name).set(size - pool.get_idle_size())
        metrics.POOL_MAX.labels(name).set(pool.get_max_size())

    def _sample_replicas(self, replicas: Any) -> None:
        for replica in replicas.replicas:
            self._sample_pool(replica.name, replica.pool)
            metrics.IN_ROTATION.labels(replica.name).set(1 if replica.in_rotation else 0)
            if replica.lag_seconds is not None:
                metrics.REPLICA_LAG.labels(replica.name).set(replica.lag_seconds)
            self._follow(metrics.REPLICA_READS.labels(replica.name), ("replica reads", replica.name), replica.reads)
        self._follow(metrics.REPLICA_FALLBACKS, ("replica fallbacks", ""), replicas.fallbacks)

    @staticmethod
    def _sample_positions(positions: Positions) -> None:
        metrics.POSITION.set(positions.position)
        metrics.LEDGER_POSITION.set(positions.recorded)
        metrics.BEHIND.set(max(0, positions.recorded - positions.position))
        metrics.PROJECTION_LED.set(1 if positions.projection_led else 0)
        metrics.DISPATCH_LED.set(1 if positions.dispatch_led else 0)
        if positions.lag_seconds is not None:
            metrics.LAG.set(positions.lag_seconds)

    async def sample_forever(self, stop: asyncio.Event) -> None:
        """Sample every metrics.SAMPLE_SECONDS until `stop` is set, so that another process's scrape sees this one."""
        while not stop.is_set():
            await self.sample()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), metrics.SAMPLE_SECONDS)


async def read_positions(services: Any, dispatcher_lock: int | None) -> Positions:
    ledger = services.ledger
    events_table = ledger.recorder.events_table_name
    position, recorded, led = await read_model.positions(services.pool, ledger.name, events_table)
    dispatch_led = dispatcher_lock is not None and await read_model.lock_held(services.pool, dispatcher_lock)
    lag: float | None = 0.0
    if recorded > position:
        lag = await read_model.oldest_unprojected_age(services.pool, events_table, position)
    return Positions(position, recorded, led, dispatch_led, lag)
