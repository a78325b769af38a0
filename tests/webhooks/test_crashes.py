"""The dispatcher killed mid-delivery, or wedged, and another taking over: every message arrives, once after
deduplication by webhook-id, in ledger order."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from uuid import UUID

import asyncpg
import pytest

from domain.ledger import Ledger
from service.projector import cli_process
from service.webhooks.tables import LOCK_KEY
from tests.receiver import OK, STALL, Receiver
from tests.webhooks.conftest import Dispatching
from tests.webhooks.given import a_webhook, flip, status_changes, until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180, func_only=True)]

FLIPS = 30


@contextmanager
def deliverer(database_url: str) -> Iterator[subprocess.Popen[bytes]]:
    """`measure-ledger deliver` in a process of its own, allowed to call the receiver on 127.0.0.1."""
    env = {
        "ML_WEBHOOK_ALLOW_HOSTS": "127.0.0.1",
        "ML_WEBHOOK_RETRY_BASE_SECONDS": "0.05",
        "ML_WEBHOOK_RETRY_MAX_SECONDS": "0.2",
        "ML_LEADER_STALL_SECONDS": "60",
    }
    with cli_process("deliver", database_url, env=env, output=subprocess.DEVNULL) as process:
        yield process


async def leader(pool: asyncpg.Pool) -> int | None:
    """The PostgreSQL pid of the session leading the deliveries, if any."""
    value = await pool.fetchval(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1"
        " AND ((classid::bigint << 32) | objid::bigint) = $1",
        LOCK_KEY,
    )
    return None if value is None else int(value)


def in_order_once(receiver: Receiver, name: str) -> list[tuple[int, str]]:
    """The keys `name` received after deduplication; every redelivery repeats an id it already had."""
    keys = []
    for r in receiver.unique(name):
        assert r.verified and r.body is not None
        keys.append((r.body["data"]["position"], r.body["data"]["quarter"]))
    return keys


async def test_a_dispatcher_killed_mid_delivery_and_restarted_delivers_everything_once_in_order(
    ledger: Ledger, plan_id: UUID, measure_id: UUID, pool: asyncpg.Pool, receiver: Receiver, database_url: str
) -> None:
    await a_webhook(pool, receiver, "crm")
    flip(ledger, measure_id, FLIPS)
    receiver.set_mode("crm", STALL)

    # Killed while the receiver holds its first message unanswered.
    with deliverer(database_url) as process:
        await asyncio.to_thread(receiver.wait_for, "crm", 1)
        process.kill()
    receiver.set_mode("crm", OK)
    # Killed outright again once deliveries are flowing, wherever it is: before a post, after the receiver's
    # answer and before the cursor moved, or in between.
    with deliverer(database_url) as process:
        await asyncio.to_thread(receiver.wait_for, "crm", FLIPS // 2)
        process.kill()
    with deliverer(database_url):
        await asyncio.to_thread(receiver.wait_for, "crm", FLIPS)
        await asyncio.sleep(0.3)

    expected = [(c["position"], c["quarter"]) for c in await status_changes(pool, plan_id)]
    assert len(expected) == FLIPS
    assert in_order_once(receiver, "crm") == expected
    received = receiver.received("crm")
    assert len(received) > FLIPS, "the message held when the dispatcher was killed came again, under its id"
    assert received[0].id == received[1].id


async def test_a_wedged_dispatcher_is_replaced_by_one_on_standby_and_stops_leading_when_it_wakes(
    ledger: Ledger,
    plan_id: UUID,
    measure_id: UUID,
    pool: asyncpg.Pool,
    receiver: Receiver,
    database_url: str,
    dispatching: Dispatching,
) -> None:
    await a_webhook(pool, receiver, "crm")

    with deliverer(database_url) as process:
        await until(lambda: leader(pool))
        wedged = await leader(pool)
        os.kill(process.pid, signal.SIGSTOP)
        try:
            flip(ledger, measure_id, 4)
            async with dispatching(stall_seconds=1.0):
                await until(lambda: _led_by_other(pool, wedged))
                await asyncio.to_thread(receiver.wait_for, "crm", 4)
        finally:
            os.kill(process.pid, signal.SIGCONT)
        assert process.poll() is None, "the replaced dispatcher carries on, on standby"

    expected = [(c["position"], c["quarter"]) for c in await status_changes(pool, plan_id)]
    assert in_order_once(receiver, "crm") == expected


async def _led_by_other(pool: asyncpg.Pool, pid: int | None) -> bool:
    now = await leader(pool)
    return now is not None and now != pid
