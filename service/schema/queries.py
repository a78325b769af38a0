"""Queries: plans and measures as the read model shows them now."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from service import read
from service.schema.errors import parse_id
from service.schema.types import Measure, Plan


@strawberry.type
class Query:
    @strawberry.field(description="Every plan, or a partnership's plans.")
    async def plans(self, info: Info, partnership: str | None = None) -> list[Plan]:
        rows = await read.plans(info.context.services.pool, partnership)
        return [Plan.from_row(r) for r in rows]

    @strawberry.field(description="One plan, or null if there is none with this id.")
    async def plan(self, info: Info, id: strawberry.ID) -> Plan | None:
        row = await info.context.loaders.plan.load(parse_id(id, "id"))
        return Plan.from_row(row) if row else None

    @strawberry.field(description="One measure, or null if there is none with this id.")
    async def measure(self, info: Info, id: strawberry.ID) -> Measure | None:
        row = await info.context.loaders.measure.load(parse_id(id, "id"))
        return Measure.from_row(row) if row else None
