"""Deliveries to a real receiver: signed, in ledger order, each once, and only the webhook's own partnership's."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any
from uuid import UUID

import asyncpg
import pytest

from domain.commands import ApproveReturn, PublishQuarter, SendBackReturn, SubmitFigure, SubmitReturn
from domain.ledger import Ledger, Request
from domain.publishing import PublicationFacts
from domain.values import Quarter, parse_amount
from service.webhooks.kinds import EventKind
from tests.integration.given import OFFICER, a_measure, a_plan
from tests.receiver import Received, Receiver
from tests.webhooks.conftest import Dispatching
from tests.webhooks.given import a_webhook, flip, shown, status_changes

pytestmark = pytest.mark.timeout(120, func_only=True)

FACTS = PublicationFacts(None)  # the position the publication fixes: the last recorded


async def test_status_changes_arrive_signed_once_each_in_ledger_order_with_their_cursors(
    ledger: Ledger, plan_id: UUID, pool: asyncpg.Pool, receiver: Receiver, dispatching: Dispatching
) -> None:
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


async def test_the_quarterly_cycles_kinds_are_sent_its_returns_and_publications_each_with_its_type(
    ledger: Ledger, plan_id: UUID, pool: asyncpg.Pool, receiver: Receiver, dispatching: Dispatching
) -> None:
    measure_id = a_measure(ledger, plan_id)
    cycle = [k for k in EventKind if k.name.startswith(("RETURN_", "QUARTER_"))]
    await a_webhook(pool, receiver, "board", *cycle)
    await a_webhook(pool, receiver, "mirror", EventKind.LEDGER_EVENT)
    approver = Request("approver@stockton.gov.uk")

    async with dispatching():
        ledger.handle(SubmitFigure(measure_id, "total", Quarter.Q1, parse_amount("492", None, None)), OFFICER)
        ledger.handle(SubmitReturn(measure_id, Quarter.Q1), OFFICER)
        ledger.handle(SendBackReturn(measure_id, Quarter.Q1, "commentary missing"), approver)
        ledger.handle(SubmitReturn(measure_id, Quarter.Q1), OFFICER)
        ledger.handle(ApproveReturn(measure_id, Quarter.Q1), approver)
        publication = PublishQuarter(plan_id, Quarter.Q1, "Board, 25 September 2012", date(2012, 9, 25), FACTS)
        ledger.handle(publication, approver)
        board = await asyncio.to_thread(receiver.wait_for, "board", 5)
        mirrored = await asyncio.to_thread(receiver.wait_for, "mirror", 6)

    assert [b["type"] for b in bodies(board)] == [
        "return.submitted",
        "return.sent_back",
        "return.submitted",
        "return.approved",
        "quarter.published",
    ]
    actions = ["ReturnSubmitted", "ReturnSentBack", "ReturnSubmitted", "ReturnApproved", "QuarterPublished"]
    assert [b["data"]["action"] for b in bodies(board)] == actions
    # Every event once, each typed by its own kind: the figure's, then the cycle's.
    assert bodies(mirrored)[1:] == bodies(board) and bodies(mirrored)[0]["type"] == "ledger.event"
    # A figure's event carries every field it changed, as AuditEntry.changes does.
    figure = mirrored[0].body
    assert figure is not None and figure["data"]["changes"] == [
        {"field": "value", "before": None, "after": "492"},
        {"field": "availability", "before": None, "after": "available"},
    ]
    assert all(r.body["data"]["changes"] == [] for r in board if r.body and "action" in r.body["data"])


def bodies(received: list[Received]) -> list[dict[str, Any]]:
    return [
        {"type": r.body["type"], "data": {k: r.body["data"][k] for k in ("position", "action")}}
        for r in received
        if r.body
    ]
