"""Deliveries to a real receiver: signed, in ledger order, each once, and only the webhook's own partnership's."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from domain.ledger import Ledger
from service.webhooks.kinds import EventKind
from tests.integration.given import a_measure, a_plan
from tests.receiver import Receiver
from tests.webhooks.conftest import Dispatching
from tests.webhooks.given import a_webhook, flip, shown, status_changes

pytestmark = pytest.mark.timeout(120, func_only=True)


async def test_status_changes_arrive_signed_once_each_in_ledger_order_with_their_cursors(
    ledger: Ledger, projecting: None, pool: asyncpg.Pool, receiver: Receiver, dispatching: Dispatching
) -> None:
    plan_id = a_plan(ledger)
    measure_id = a_measure(ledger, plan_id)
    await a_webhook(pool, receiver, "crm")

    async with dispatching():
        flip(ledger, measure_id, 6)
        received = await asyncio.to_thread(receiver.wait_for, "crm", 6)

    expected = await status_changes(pool, plan_id)
    assert len(expected) == 6
    assert all(r.verified for r in receiver.received("crm"))
    bodies = [r.body for r in received]
    assert all(b is not None and b["type"] == "status.changed" for b in bodies)
    assert shown([b["data"] for b in bodies if b], list(expected[0])) == expected
    assert len({r.id for r in received}) == 6


async def test_a_webhook_of_one_partnership_never_receives_another_partnerships_events(
    ledger: Ledger, projecting: None, pool: asyncpg.Pool, receiver: Receiver, dispatching: Dispatching
) -> None:
    ours = a_measure(ledger, a_plan(ledger, partnership="SSP"))
    theirs = a_measure(ledger, a_plan(ledger, partnership="Hartlepool Safer Partnership"))
    await a_webhook(pool, receiver, "ssp", EventKind.LEDGER_EVENT, EventKind.STATUS_CHANGED, partnership="ssp")

    async with dispatching():
        flip(ledger, theirs, 2)
        flip(ledger, ours, 2)
        flip(ledger, theirs, 2)
        received = await asyncio.to_thread(receiver.wait_for, "ssp", 4)
        await asyncio.sleep(0.5)  # time for anything else to arrive

    data = [r.body["data"] for r in receiver.received("ssp") if r.body]
    assert {d["measureId"] for d in data} == {str(ours)}
    assert [r.body["type"] for r in received if r.body] == ["ledger.event", "status.changed"] * 2
    keys = [(d["position"], d.get("from") is not None) for d in data]
    assert keys == sorted(keys)


async def test_a_webhook_of_the_cycles_kinds_is_sent_only_the_cycles_events(
    ledger: Ledger, projecting: None, pool: asyncpg.Pool, receiver: Receiver, dispatching: Dispatching
) -> None:
    measure_id = a_measure(ledger, a_plan(ledger))
    cycle = (
        EventKind.RETURN_SUBMITTED,
        EventKind.RETURN_APPROVED,
        EventKind.RETURN_SENT_BACK,
        EventKind.QUARTER_PUBLISHED,
    )
    await a_webhook(pool, receiver, "board", *cycle)
    await a_webhook(pool, receiver, "mirror", EventKind.LEDGER_EVENT)

    async with dispatching():
        flip(ledger, measure_id, 3)
        mirrored = await asyncio.to_thread(receiver.wait_for, "mirror", 3)
        await asyncio.sleep(0.3)

    assert [(r.body or {})["data"]["action"] for r in mirrored] == [
        "StatusOverridden",
        "StatusOverrideCleared",
        "StatusOverridden",
    ]
    assert {(r.body or {})["type"] for r in mirrored} == {"ledger.event"}
    assert receiver.received("board") == [], "no return or publication was recorded"
