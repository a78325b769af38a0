"""Webhooks, status changes and waits, as the webhook tests need them."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from uuid import UUID

import asyncpg

from domain.commands import ClearStatusOverride, OverrideStatus
from domain.ledger import Ledger
from domain.values import Quarter, Status
from service.cursors import status_change_cursor
from service.webhooks import registry
from service.webhooks.kinds import EventKind
from tests.integration.given import OFFICER
from tests.receiver import OK, Receiver


async def a_webhook(
    pool: asyncpg.Pool,
    receiver: Receiver,
    name: str,
    *kinds: EventKind,
    partnership: str | None = "SSP",
    plan_id: UUID | None = None,
    mode: str = OK,
) -> UUID:
    """A webhook posting to the receiver's `name`, which answers as `mode` says."""
    new = registry.NewWebhook(
        url=receiver.url(name),
        kinds=frozenset(kinds or (EventKind.STATUS_CHANGED,)),
        partnership=partnership,
        created_by="admin@stockton.gov.uk",
        plan_id=plan_id,
    )
    row, secret = await registry.create(pool, new, await registry.outbox_end(pool))
    receiver.trust(name, secret)
    receiver.set_mode(name, mode)
    return UUID(str(row["id"]))


def flip(ledger: Ledger, measure_id: UUID, times: int, quarter: Quarter = Quarter.Q1, *, done: int = 0) -> None:
    """Change a quarter's status `times` times, by overriding it and clearing the override in turn, after
    `done` such changes."""
    for i in range(done, done + times):
        if i % 2 == 0:
            ledger.handle(OverrideStatus(measure_id, quarter, Status.OFF_TRACK, "police data late"), OFFICER)
        else:
            ledger.handle(ClearStatusOverride(measure_id, quarter, "police data arrived"), OFFICER)


async def status_changes(pool: asyncpg.Pool, plan_id: UUID) -> list[dict[str, object]]:
    rows = await pool.fetch("SELECT * FROM status_changes WHERE plan_id = $1 ORDER BY position, quarter", plan_id)
    return [
        {
            "cursor": status_change_cursor((r["position"], r["quarter"])),
            "position": r["position"],
            "quarter": r["quarter"],
            "from": r["from_status"],
            "to": r["to_status"],
            "measureId": str(r["measure_id"]),
            "planId": str(r["plan_id"]),
        }
        for r in rows
    ]


def shown(received: list[dict[str, object]], keys: list[str]) -> list[dict[str, object]]:
    return [{k: r[k] for k in keys} for r in received]


async def until(condition: Callable[[], Awaitable[object]], timeout: float = 60.0) -> None:
    """Return once `condition()` is true; AssertionError after `timeout`."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)
