"""One webhook's deliveries: its messages in order, one at a time, each until its receiver takes it.

A worker reads a batch of messages after its webhook's cursor, posts the first, and only after a 2xx
moves the cursor past it (attempts.py); then the next. A failure schedules the next attempt of the
same message after a back-off, and after `give_up_seconds` of failing pauses the webhook with the
reason. The cursor is in PostgreSQL, so a crash anywhere, before or after the receiver's answer,
sends again what was not recorded as taken, never skips it; the `webhook-id` lets the receiver see
that it already has it. Each webhook has its own worker (an asyncio task), so one whose receiver is
slow or dead holds up only itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg

from service import metrics
from service.webhooks import signing
from service.webhooks.attempts import Fence, load, record
from service.webhooks.backoff import retry_delay
from service.webhooks.outbox import Hook, Message, pending
from service.webhooks.sender import Sender
from service.webhooks.settings import WebhookSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivering:
    """What every worker of one leader shares."""

    pool: asyncpg.Pool
    sender: Sender
    settings: WebhookSettings
    epoch: int


def now() -> datetime:
    return datetime.now(UTC)


class Worker:
    """Delivers one webhook until it is paused or deleted, or the worker is cancelled."""

    def __init__(self, webhook_id: UUID, delivering: Delivering) -> None:
        self.id = webhook_id
        self.delivering = delivering
        self.hook: Hook | None = None
        self._wake = asyncio.Event()
        self._reload = True
        self.task: asyncio.Task[None] | None = None

    def start(self) -> Worker:
        self.task = asyncio.create_task(self.run(), name=f"webhook-{self.id}")
        return self

    def poke(self, *, reload: bool = False) -> None:
        """New rows may be in the outbox (or, with `reload`, the webhook changed): look now."""
        self._reload = self._reload or reload
        self._wake.set()

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task

    @property
    def done(self) -> bool:
        return self.task is not None and self.task.done()

    async def run(self) -> None:
        while True:
            try:
                if not await self._step():
                    return
            except asyncio.CancelledError:
                raise
            except Exception:
                # The database went away, or a bug: nothing was recorded, so the message is sent again later.
                log.exception("delivering webhook %s failed; trying again shortly", self.id)
                self._reload = True
                await asyncio.sleep(1.0)

    async def _step(self) -> bool:
        """Deliver what is due, or wait for something to be; False once the webhook is paused or gone."""
        if self._reload or self.hook is None:
            self._reload = False
            self.hook = await load(self.delivering.pool, self.id)
            if self.hook is None or self.hook.paused:
                return False
        hook = self.hook
        self._wake.clear()  # before reading: a poke from here on is not lost
        if hook.next_attempt_at is not None and (wait := (hook.next_attempt_at - now()).total_seconds()) > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)
            return True
        messages = await pending(self.delivering.pool, hook, self.delivering.settings.batch)
        if not messages:
            await self._wake.wait()
            return True
        for message in messages:
            if self._reload or not await self._attempt(message):
                break
        return True

    async def _attempt(self, message: Message) -> bool:
        """Send one message once; whether it was taken (and recorded so)."""
        hook, delivering = self.hook, self.delivering
        assert hook is not None
        attempted_at = now()
        headers = signing.headers(message.id, attempted_at, message.body, hook.signing(attempted_at))
        outcome = await delivering.sender.post(hook.url, message.body, headers)
        metrics.webhook_attempted(outcome.delivered, outcome.seconds)
        fence = Fence(delivering.epoch, hook.revision)
        if outcome.delivered:
            after = replace(hook, cursor=message.key, failures=0, failing_since=None, next_attempt_at=None)
        else:
            after = self._after_failure(hook, attempted_at, outcome.error or "")
        written = await record(delivering.pool, hook, after, fence, message, attempted_at, outcome)
        if not written:
            # Changed by its admin meanwhile, or this process leads no more: look again before going on.
            self._reload = True
            return False
        self.hook = after
        if after.paused:
            self._reload = True
        return outcome.delivered

    def _after_failure(self, hook: Hook, attempted_at: datetime, error: str) -> Hook:
        """The webhook after a failed attempt: its next attempt scheduled, or paused once failing too long."""
        settings = self.delivering.settings
        failures = hook.failures + 1
        failing_since = hook.failing_since or attempted_at
        failing = attempted_at - failing_since
        delay = retry_delay(failures, settings.retry_base_seconds, settings.retry_max_seconds)
        after = replace(
            hook,
            failures=failures,
            failing_since=failing_since,
            next_attempt_at=attempted_at + timedelta(seconds=delay),
        )
        if failing.total_seconds() < settings.give_up_seconds:
            return after
        reason = (
            f"paused after failing for {timedelta(seconds=round(failing.total_seconds()))}"
            f" (since {failing_since:%Y-%m-%d %H:%M:%S} UTC, {failures} attempts); last error: {error}"
        )
        log.warning("webhook %s: %s", hook.id, reason)
        return replace(after, paused=True, paused_reason=reason)
