"""Receivers that fail, stall, close or redirect: retried with back-off, paused when failing too long,
and never holding up another webhook's deliveries."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any
from uuid import UUID

import asyncpg
import pytest

from domain.ledger import Ledger
from service.webhooks import registry
from tests.receiver import CLOSE, FAIL, OK, REDIRECT, STALL, Receiver
from tests.webhooks.conftest import Dispatching
from tests.webhooks.given import a_webhook, flip, until

pytestmark = pytest.mark.timeout(120, func_only=True)

Failing = Callable[..., AbstractAsyncContextManager[UUID]]


@pytest.fixture
def failing(
    ledger: Ledger, measure_id: UUID, pool: asyncpg.Pool, receiver: Receiver, dispatching: Dispatching
) -> Failing:
    """`async with failing(name, mode, changes=n, failures=k, **settings) as hook:` a webhook posting to the
    receiver's `name`, which answers as `mode` says, while a dispatcher runs with `settings`; the block starts
    once `n` status changes are recorded and `k` attempts to deliver them have failed."""

    @asynccontextmanager
    async def run(name: str, mode: str, *, changes: int, failures: int, **settings: Any) -> AsyncIterator[UUID]:
        hook = await a_webhook(pool, receiver, name, mode=mode)
        async with dispatching(**settings):
            flip(ledger, measure_id, changes)
            await until(lambda: _attempts(pool, hook, delivered=False, at_least=failures))
            yield hook

    return run


async def test_a_failing_receiver_is_tried_again_until_it_takes_every_message_once_in_order(
    failing: Failing, pool: asyncpg.Pool, receiver: Receiver
) -> None:
    async with failing("crm", FAIL, changes=4, failures=3) as hook:
        receiver.set_mode("crm", OK)
        received = await asyncio.to_thread(receiver.wait_for, "crm", 4)

    positions = [(r.body or {})["data"]["position"] for r in received]
    assert positions == sorted(positions) and len(set(positions)) == 4
    log = await registry.attempts(pool, hook, 100)
    failed = [a for a in log if not a["delivered"]]
    assert {a["status_code"] for a in failed} == {500}
    assert all(a["error"] == "HTTP 500: receiver down for maintenance" for a in failed)
    # Every failed attempt was of the first message, under one webhook-id, counted up.
    assert {a["message_id"] for a in failed} == {received[0].id}
    assert sorted(a["attempt"] for a in failed) == list(range(1, len(failed) + 1))
    row = await registry.get(pool, hook)
    assert row is not None and row["failures"] == 0 and row["last_error"].startswith("HTTP 500")


async def test_a_webhook_failing_for_longer_than_allowed_is_paused_with_the_reason_and_resumes_where_it_stopped(
    ledger: Ledger, measure_id: UUID, pool: asyncpg.Pool, receiver: Receiver, dispatching: Dispatching
) -> None:
    hook = await a_webhook(pool, receiver, "crm", mode=CLOSE)

    async with dispatching(give_up_seconds=0.5):
        flip(ledger, measure_id, 2)
        await until(lambda: _paused(pool, hook))
        row = await registry.get(pool, hook)
        assert row is not None
        assert row["paused_reason"].startswith("paused after failing for 0:00:0")
        assert "last error: " in row["paused_reason"]
        tried = len(receiver.received("crm"))
        await asyncio.sleep(0.5)
        assert len(receiver.received("crm")) == tried, "a paused webhook is not tried"

        receiver.set_mode("crm", OK)
        await registry.resume(pool, hook)
        received = await asyncio.to_thread(receiver.wait_for, "crm", 2)

    assert [(r.body or {})["data"]["to"] for r in received] == ["OFF_TRACK", "NO_DATA"]


async def test_a_stalled_receiver_holds_up_only_its_own_webhook(
    ledger: Ledger, measure_id: UUID, pool: asyncpg.Pool, receiver: Receiver, dispatching: Dispatching
) -> None:
    await a_webhook(pool, receiver, "stalled", mode=STALL)
    await a_webhook(pool, receiver, "healthy")

    async with dispatching(timeout_seconds=30.0):
        flip(ledger, measure_id, 4)
        healthy = await asyncio.to_thread(receiver.wait_for, "healthy", 4, 10.0)
        stalled = receiver.received("stalled")
        receiver.set_mode("stalled", OK)

    assert len(healthy) == 4
    assert len(stalled) == 1, "the stalled receiver's first message is still awaiting its answer"


async def test_redirects_are_not_followed_and_count_as_failures(failing: Failing, pool: asyncpg.Pool) -> None:
    async with failing("moved", REDIRECT, changes=1, failures=1) as hook:
        (attempt, *_) = await registry.attempts(pool, hook, 1)

    assert attempt["status_code"] == 302
    assert attempt["error"] == "HTTP 302: redirects are not followed (to https://example.invalid/elsewhere)"


async def _attempts(pool: asyncpg.Pool, hook: object, *, delivered: bool, at_least: int) -> bool:
    count = await pool.fetchval(
        "SELECT count(*) FROM webhook_attempts WHERE webhook_id = $1 AND delivered = $2", hook, delivered
    )
    return int(count) >= at_least


async def _paused(pool: asyncpg.Pool, hook: object) -> bool:
    return bool(await pool.fetchval("SELECT paused_at IS NOT NULL FROM webhooks WHERE id = $1", hook))


async def test_a_receiver_that_does_not_answer_in_time_fails_the_attempt_and_is_tried_again(
    failing: Failing, pool: asyncpg.Pool, receiver: Receiver
) -> None:
    async with failing("slow", STALL, changes=1, failures=2, timeout_seconds=0.3) as hook:
        receiver.set_mode("slow", OK)
        await until(lambda: _attempts(pool, hook, delivered=True, at_least=1))

    log = await registry.attempts(pool, hook, 100)
    timed_out = [a for a in log if not a["delivered"]]
    assert {a["error"] for a in timed_out} == {"no response within 0.3 s"}
    assert all(a["status_code"] is None and 0.3 <= a["seconds"] < 5 for a in timed_out)
    assert len({a["message_id"] for a in log}) == 1
