"""Queries: plans and measures as the read model shows them now."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from service import read
from service.auth.policy import Action, partnership_filter
from service.schema.context import Target
from service.schema.errors import error, parse_id
from service.schema.types import Measure, Plan


@strawberry.type
class Query:
    @strawberry.field(description="Every plan, or a partnership's plans.")
    async def plans(self, info: Info, partnership: str | None = None) -> list[Plan]:
        # A principal of one partnership sees its own plans only, asked or not.
        visible = partnership_filter(info.context.principal, partnership)
        rows = await read.plans(info.context.services.pool, visible)
        return [Plan.from_row(r) for r in rows]

    @strawberry.field(
        description="One plan, or null if there is none with this id. With asOf, every field is what the "
        "ledger showed at that moment; null if the plan did not exist yet."
    )
    async def plan(self, info: Info, id: strawberry.ID, as_of: datetime | None = None) -> Plan | None:
        plan_id = parse_id(id, "id")
        at = await _position(info, as_of)
        if at == 0:
            return None
        row = await info.context.loaders.at(at).plan.load(plan_id)
        info.context.require(_reading(as_of), Target(row["partnership"]) if row else None)
        return Plan.from_row(row, at) if row else None

    @strawberry.field(
        description="One measure, or null if there is none with this id. With asOf, every field is what the "
        "ledger showed at that moment; null if the measure did not exist yet."
    )
    async def measure(self, info: Info, id: strawberry.ID, as_of: datetime | None = None) -> Measure | None:
        measure_id = parse_id(id, "id")
        at = await _position(info, as_of)
        if at == 0:
            return None
        loaders = info.context.loaders.at(at)
        row = await loaders.measure.load(measure_id)
        plan = await loaders.plan.load(row["plan_id"]) if row else None
        info.context.require(_reading(as_of), Target(plan["partnership"]) if plan else None)
        return Measure.from_row(row, at) if row else None


def _reading(as_of: datetime | None) -> Action:
    """Time travel is for auditors; the present is for viewers."""
    return Action.READ_CURRENT if as_of is None else Action.READ_AUDIT


async def _position(info: Info, as_of: datetime | None) -> int | None:
    """The ledger position a read is made at: None for now, 0 before anything was recorded."""
    if as_of is None:
        return None
    info.context.require(Action.READ_AUDIT, None)
    if as_of.tzinfo is None:
        raise error("VALIDATION", "asOf: give a time zone offset, e.g. 2012-09-25T09:00:00Z", "asOf")
    return await read.position_at(info.context.services.pool, as_of)
