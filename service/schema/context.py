"""What every resolver gets: the caller, the pools, the ledger, per-request loaders."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, cast
from uuid import UUID

import asyncpg
from starlette.concurrency import run_in_threadpool

from domain.commands import Command
from domain.errors import DomainError
from domain.ledger import Ledger, Request, Written
from service import read_model
from service.auth.jwt import JwtVerifier
from service.auth.policy import Action, require
from service.auth.principal import Principal
from service.auth.report_links import LinkSigner
from service.fanout import Feeds
from service.limits import RateLimiter
from service.positions import PositionWatcher
from service.replicas import Replicas
from service.schema.errors import error, from_domain, parse_id
from service.schema.loaders import LoaderSets
from service.schema.targets import KnownTargets, Target
from service.schema.write_inputs import Write
from service.settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")

# Ledger commands run here rather than through Starlette's run_in_threadpool: anyio's version spends two
# extra event-loop turns (checkpoints) and a capacity limiter on every call, CPU on every write
# (py-spy, bench/profile_submit.py). As many threads as anyio's default limit, so group
# commit still gathers every writer. Commands read no context variables, which anyio would have copied.
COMMAND_THREADS = 40
_commands = ThreadPoolExecutor(max_workers=COMMAND_THREADS, thread_name_prefix="ledger-command")


async def in_command_thread(call: Callable[[], T]) -> T:
    """`call()` in a command thread; the caller's task waits for it without holding the event loop.

    As `loop.run_in_executor`, without its second future chained to the executor's: the thread hands the
    outcome straight to the waiting task's future (one call on the loop, not four).
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def run() -> None:
        try:
            outcome: tuple[T | None, BaseException | None] = (call(), None)
        except BaseException as e:
            outcome = (None, e)
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
            loop.call_soon_threadsafe(_hand_over, future, *outcome)

    work = _commands.submit(run)
    try:
        return await future
    except asyncio.CancelledError:
        work.cancel()  # not started yet: it never will be, as with run_in_executor
        raise


def _hand_over(future: asyncio.Future[T], result: T | None, error: BaseException | None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(cast(T, result))


@dataclass
class Services:
    """Long-lived: one per process, made in the app's lifespan."""

    settings: Settings
    pool: asyncpg.Pool
    ledger: Ledger
    watcher: PositionWatcher
    feeds: Feeds
    # The standbys queries read from, and the primary (service/replicas.py).
    replicas: Replicas
    verifier: JwtVerifier | None = None
    rate_limiter: RateLimiter | None = None
    # Plans' and measures' places, which never change once made (service/schema/targets.py).
    targets: KnownTargets = field(default_factory=KnownTargets)
    # Which URLs webhooks may be sent to (ML_WEBHOOK_ALLOW_HOSTS), checked when one is made.
    # Signs and checks the report's short-lived links (service/auth/report_links.py).
    report_links: LinkSigner | None = None


@dataclass
class Context:
    services: Services
    principal: Principal | None
    request: Any = None
    response: Any = None
    # Set by Strawberry from a WebSocket's connection_init payload (see on_ws_connect).
    connection_params: dict[str, Any] | None = None
    # Where this request's reads go: a standby chosen for a query (service/replicas.py); the primary otherwise.
    reader: asyncpg.Pool | None = None
    loaders: LoaderSets = field(init=False)
    # Set once the ledger has recorded a write of this request: its answer must never read as a failed write.
    wrote: bool = False

    def __post_init__(self) -> None:
        self.loaders = LoaderSets(self.reads)

    @property
    def reads(self) -> asyncpg.Pool:
        return self.reader if self.reader is not None else self.services.pool

    def actor(self) -> str:
        if self.principal is None:
            raise error("UNAUTHENTICATED", "this operation needs a bearer token in the Authorization header")
        return self.principal.name

    def require(self, action: Action, target: Target | None) -> Principal:
        """The caller, if the policy lets it do `action` on `target`; else UNAUTHENTICATED or FORBIDDEN."""
        if target is None:
            # Nothing there: say so only to a caller who could have read it.
            principal = require(self.principal, action, partnership=_own(self.principal))
            return principal
        return require(self.principal, action, **target.where())

    async def plan_target(self, plan_id: UUID) -> Target | None:
        """The partnership a plan belongs to: as seen before, or from the read model, or else the ledger."""
        known = self.services.targets
        if (found := known.get("plan", plan_id)) is not None:
            return found
        row = await self.loaders.at(None).plan.load(plan_id)
        if row is not None:
            return known.keep("plan", plan_id, Target(row["partnership"]))
        plan = await run_in_threadpool(_find, self.services.ledger.get_plan, plan_id)
        return known.keep("plan", plan_id, Target(plan.partnership)) if plan is not None else None

    async def measure_target(self, measure_id: UUID) -> Target | None:
        """A measure's partnership, theme and number: as seen before, or from the read model, or the ledger."""
        known = self.services.targets
        if (found := known.get("measure", measure_id)) is not None:
            return found
        loaders = self.loaders.at(None)
        row = await loaders.measure.load(measure_id)
        if row is not None:
            plan = await loaders.plan.load(row["plan_id"])
            if plan is not None:
                return known.keep("measure", measure_id, Target(plan["partnership"], row["theme_code"], row["number"]))
        measure = await run_in_threadpool(_find, self.services.ledger.get_measure, measure_id)
        if measure is None:
            return None
        plan_target = await self.plan_target(measure.plan_id)
        assert plan_target is not None
        return known.keep("measure", measure_id, Target(plan_target.partnership, measure.theme_code, measure.number))

    def forget_reads(self) -> None:
        """Drop the loaders and the rows they cached.

        A subscription's context lives as long as its socket: the reads of its access check
        (a set of DataLoaders) should not live on with every idle subscriber.
        """
        self.loaders = LoaderSets(self.reads)

    def request_for(self, expected_version: int | None, idempotency_key: str | None) -> Request:
        return Request(self.actor(), expected_version, idempotency_key)

    async def write_to(
        self, kind: Literal["plan", "measure"], i: Write, command: Callable[[UUID], Command], action: Action
    ) -> Written:
        """The shape of every write to one plan or measure (`kind`, named by the input's `planId` or
        `measureId`): who, which one, may they, the command it makes."""
        req = self.request_for(i.expected_version, i.idempotency_key)
        target_id = parse_id(getattr(i, f"{kind}_id"), f"{kind}Id")
        self.require(action, await (self.plan_target if kind == "plan" else self.measure_target)(target_id))
        return await self.write(await self.parse(lambda: command(target_id)), req)

    async def write(self, command: Command, req: Request) -> Written:
        """Have the ledger handle `command` in a worker thread, then wait for the read model to show it."""
        ledger = self.services.ledger
        if self.services.rate_limiter is not None:
            self.services.rate_limiter.check(self.actor())
        try:
            written = await in_command_thread(lambda: ledger.handle(command, req))
        except DomainError as e:
            raise from_domain(e) from None
        # Recorded: from here on the answer says so, whatever fails (schema/after_write.py).
        self.wrote = True
        try:
            target = written.position
            if target is None:
                # An idempotent retry: whatever it wrote is already in the log.
                target = await run_in_threadpool(lambda: ledger.recorder.max_notification_id() or 0)
            waited = await self.services.watcher.wait_for(target, self.services.settings.write_wait_seconds)
        except Exception:
            log.exception("could not wait for the read model to show a recorded write")
            waited, target = False, written.position
        if not waited:
            log.warning("read model has not reached position %s; payload may lag its write", target)
        # Loaders cached before the write would show the state before it; the payload reads the primary,
        # which holds the write now, where a standby might not yet.
        self.reader = self.services.pool
        self.loaders = LoaderSets(self.services.pool)
        return written

    async def position_of(self, written: Written) -> int | None:
        """Where a write's event sits in the log; an idempotent retry recorded nothing and is looked up."""
        if written.position is not None:
            return written.position
        return await read_model.event_position(self.services.pool, written.id, written.version)

    async def parse(self, parse: Callable[[], T]) -> T:
        """Input checks that may raise DomainError, as GraphQL errors."""
        try:
            return parse()
        except DomainError as e:
            raise from_domain(e) from None


def _find(get: Callable[[UUID], T], aggregate_id: UUID) -> T | None:
    try:
        return get(aggregate_id)
    except DomainError:
        return None


def _own(principal: Principal | None) -> str | None:
    return principal.partnership if principal is not None else None
