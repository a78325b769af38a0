"""The dispatcher: exactly one leader among all processes delivers every webhook, and another takes over.

Leadership is a PostgreSQL advisory lock held by one session, as the projection's is
(projections/runner.py): a leader that dies or loses its connection frees it, and a process on standby
takes it at its next try. On winning, a leader bumps the dispatch epoch, which fences off every write of
a leader before it (service/webhooks/attempts.py). While it leads it beats once a second, through the
session holding the lock: a beat that fails, or finds the epoch moved on, ends its leading. A process
on standby that sees the beat stand still under one leader session for `stall_seconds` (a paused or
wedged process) ends that session, as projections/stall.py does for the projection, and leads.

The leader runs a worker per active webhook (service/webhooks/worker.py), starts and stops them as the
registry changes (told by NOTIFY, and looking every `poll_seconds` anyway), and pokes them all when the
read model moves on, so a message is sent as soon as its row is projected.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

import asyncpg

from projections.stall import Leader, StallWatch, holders
from projections.view import CHANNEL as VIEW_CHANNEL
from service import metrics
from service.pools import keep_session
from service.webhooks.sender import Sender
from service.webhooks.settings import WebhookSettings
from service.webhooks.tables import CHANNEL, LOCK_KEY, ensure_tables
from service.webhooks.worker import Delivering, Worker

log = logging.getLogger(__name__)

BEAT_SECONDS = 1.0
PRUNE_SECONDS = 600.0
POOL_SIZE = 8
Connect = Callable[[], Awaitable[asyncpg.Connection]]
# This process's spells of leadership under way (one at most per database).
_LEADING: set[int] = set()


def leading() -> bool:
    """Whether this process leads the webhook deliveries now."""
    return bool(_LEADING)


async def run_dispatcher(
    connect_args: dict[str, Any],
    settings: WebhookSettings,
    stop: asyncio.Event,
    *,
    sessions: asyncpg.Pool | None = None,
) -> None:
    """Lead the deliveries whenever this process can win the lock, until `stop` is set.

    Each try takes a session, from `sessions` if given (a web process's read pool: then standing by costs
    no connection of its own), and gives it back unless it won the lock, which it keeps while it leads.
    """
    watch = StallWatch(settings.stall_seconds)
    made = False
    while not stop.is_set():
        replaced = False
        session = await sessions.acquire() if sessions is not None else await asyncpg.connect(**connect_args)
        try:
            if not made:
                await ensure_tables(session)
                made = True
            if await session.fetchval("SELECT pg_try_advisory_lock($1)", LOCK_KEY):
                spell = _Leading(connect_args, settings, session)
                _LEADING.add(id(spell))
                metrics.dispatcher_leading(True)
                try:
                    await spell.run(stop)
                finally:
                    _LEADING.discard(id(spell))
                    metrics.dispatcher_leading(bool(_LEADING))
                    if not _gone(session):
                        await session.execute("SELECT pg_advisory_unlock($1)", LOCK_KEY)
            else:
                replaced = await _replace_stalled(session, watch)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("webhook dispatcher stopped; retrying in %.0f s", settings.retry_seconds)
            if not _gone(session):
                session.terminate()
        finally:
            if sessions is not None:
                await sessions.release(session)
            elif not _gone(session):
                await session.close()
        if not replaced:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), settings.retry_seconds)


def _gone(session: asyncpg.Connection) -> bool:
    """Whether a session is closed. A pooled one whose connection was lost (a database restart) is detached by
    the pool, and then every call on it, `is_closed()` too, raises: it is gone as well."""
    try:
        return bool(session.is_closed())
    except asyncpg.InterfaceError:
        return True


async def _replace_stalled(session: asyncpg.Connection, watch: StallWatch) -> bool:
    row = await session.fetchrow(f"SELECT pid, (SELECT beat FROM webhook_dispatch) AS beat {holders(LOCK_KEY)} LIMIT 1")
    leader = None if row is None else Leader(row["pid"], (row["beat"], 0), behind=1, rebuilding=False)
    if not watch.stalled(leader):
        return False
    assert leader is not None
    log.warning(
        "the webhook dispatcher (PostgreSQL session %s) has not beaten for %.0f s; ending its session to take over",
        leader.backend,
        watch.stall_seconds,
    )
    ended = await session.fetchval(
        f"SELECT pg_terminate_backend(pid, 5000) {holders(LOCK_KEY)} AND pid = $1", leader.backend
    )
    return bool(ended)


class _Leading:
    """One spell of leadership: the workers, and what keeps them told."""

    def __init__(self, connect_args: dict[str, Any], settings: WebhookSettings, session: asyncpg.Connection) -> None:
        self.connect_args = connect_args
        self.settings = settings
        self.session = session
        self.workers: dict[UUID, Worker] = {}
        self.changed: set[UUID] = set()
        self.wake = asyncio.Event()
        self.delivering: Delivering | None = None
        self.epoch = 0

    async def run(self, stop: asyncio.Event) -> None:
        self.epoch = await self.session.fetchval("UPDATE webhook_dispatch SET epoch = epoch + 1 RETURNING epoch")
        log.info("webhook dispatcher leading (epoch %s)", self.epoch)
        # Told on the session that holds the lock: it lives exactly as long as this leadership.
        await self.session.add_listener(VIEW_CHANNEL, self._on_position)
        await self.session.add_listener(CHANNEL, self._on_change)
        try:
            await self._lead(stop)
        finally:
            await asyncio.gather(*(w.stop() for w in self.workers.values()))
            if not _gone(self.session):
                await self.session.remove_listener(VIEW_CHANNEL, self._on_position)
                await self.session.remove_listener(CHANNEL, self._on_change)
            if self.delivering is not None:
                await self.delivering.sender.close()
                self.delivering.pool.terminate()

    async def _lead(self, stop: asyncio.Event) -> None:
        next_poll = next_prune = 0.0
        while not stop.is_set():
            beat = await self.session.fetchval(
                "UPDATE webhook_dispatch SET beat = beat + 1 WHERE epoch = $1 RETURNING beat", self.epoch
            )
            if beat is None:
                log.warning("another webhook dispatcher has taken over; leading no more")
                return
            clock = time.monotonic()
            if clock >= next_poll or self.changed:
                changed, self.changed = self.changed, set()
                await self._reconcile(changed, everything=clock >= next_poll)
                if clock >= next_poll:
                    next_poll = clock + self.settings.poll_seconds
            if clock >= next_prune:
                await self._prune()
                next_prune = clock + PRUNE_SECONDS
            self.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(_first(stop.wait(), self.wake.wait()), BEAT_SECONDS)

    async def _deliver(self) -> Delivering:
        """What the workers need, made when the first webhook is: a leader with none holds one connection."""
        if self.delivering is None:
            pool = await asyncpg.create_pool(
                **self.connect_args,
                min_size=1,
                max_size=POOL_SIZE,
                # A cursor commit lost in a crash of PostgreSQL only means that message is sent again, which
                # receivers deduplicate; waiting for each commit's WAL flush would bound deliveries per second.
                server_settings={"synchronous_commit": "off"},
                # Its connections run single statements and keep no session state (see keep_session).
                reset=keep_session,
            )
            self.delivering = Delivering(pool, Sender(self.settings), self.settings, self.epoch)
        return self.delivering

    def _on_position(self, *args: object) -> None:
        for worker in self.workers.values():
            worker.poke()

    def _on_change(self, connection: object, pid: object, channel: object, payload: object) -> None:
        with contextlib.suppress(ValueError):
            self.changed.add(UUID(str(payload)))
            self.wake.set()

    async def _reconcile(self, changed: set[UUID], *, everything: bool) -> None:
        """Start a worker for each active webhook without one, stop those paused or deleted, reload the changed."""
        rows = await self.session.fetch("SELECT id, revision, paused_at IS NOT NULL AS paused FROM webhooks")
        active = {r["id"]: r["revision"] for r in rows if not r["paused"]}
        if active:
            await self._deliver()
        for webhook_id in list(self.workers):
            worker = self.workers[webhook_id]
            if webhook_id not in active:
                await worker.stop()
                del self.workers[webhook_id]
            elif worker.done:
                del self.workers[webhook_id]  # it found its webhook paused: started again below if resumed
        for webhook_id, revision in active.items():
            worker = self.workers.get(webhook_id)
            if worker is None:
                self.workers[webhook_id] = Worker(webhook_id, await self._deliver()).start()
            elif webhook_id in changed or (worker.hook is not None and worker.hook.revision != revision):
                worker.poke(reload=True)
            elif everything:
                worker.poke()

    async def _prune(self) -> None:
        await self.session.execute(
            "DELETE FROM webhook_attempts WHERE attempted_at < now() - make_interval(secs => $1)",
            self.settings.log_days * 86_400.0,
        )


async def _first(*waits: Awaitable[Any]) -> None:
    """Return as soon as any of `waits` has."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
