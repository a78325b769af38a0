"""What every resolver gets: the caller, the pools, the ledger, per-request loaders."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import asyncpg
from starlette.concurrency import run_in_threadpool

from domain.errors import DomainError
from domain.ledger import Ledger, Request, Written
from service.fanout import Feeds
from service.positions import PositionWatcher
from service.schema.errors import error, from_domain
from service.schema.loaders import LoaderSets
from service.settings import Settings
from service.tokens import Principal

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class Services:
    """Long-lived: one per process, made in the app's lifespan."""

    settings: Settings
    pool: asyncpg.Pool
    ledger: Ledger
    watcher: PositionWatcher
    feeds: Feeds


@dataclass
class Context:
    services: Services
    principal: Principal | None
    request: Any = None
    response: Any = None
    # Set by Strawberry from a WebSocket's connection_init payload (see on_ws_connect).
    connection_params: dict[str, Any] | None = None
    loaders: LoaderSets = field(init=False)

    def __post_init__(self) -> None:
        self.loaders = LoaderSets(self.services.pool)

    def actor(self) -> str:
        if self.principal is None:
            raise error("UNAUTHENTICATED", "this operation needs a bearer token in the Authorization header")
        return self.principal.name

    def request_for(self, expected_version: int | None, idempotency_key: str | None) -> Request:
        return Request(self.actor(), expected_version, idempotency_key)

    async def write(self, command: Callable[[Ledger], Written]) -> Written:
        """Run a command on the ledger in a worker thread, then wait for the read model to show it."""
        ledger = self.services.ledger
        try:
            written = await run_in_threadpool(command, ledger)
        except DomainError as e:
            raise from_domain(e) from None
        target = written.position
        if target is None:
            # An idempotent retry: whatever it wrote is already in the log.
            target = await run_in_threadpool(lambda: ledger.recorder.max_notification_id() or 0)
        waited = await self.services.watcher.wait_for(target, self.services.settings.write_wait_seconds)
        if not waited:
            log.warning("read model has not reached position %s; payload may lag its write", target)
        # Loaders cached before the write would show the state before it.
        self.loaders = LoaderSets(self.services.pool)
        return written

    async def parse(self, parse: Callable[[], T]) -> T:
        """Input checks that may raise DomainError, as GraphQL errors."""
        try:
            return parse()
        except DomainError as e:
            raise from_domain(e) from None
