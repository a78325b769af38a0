"""A plan: its reporting period, its themes, and the measures of each."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

import strawberry
from strawberry.types import Info

from service.schema.cycle.types import Collection, Publication
from service.schema.ids import object_id
from service.schema.loaders import Row
from service.schema.measures.types import Measure


@strawberry.type
class Period:
    start: date
    end: date


@strawberry.type
class Plan:
    at: strawberry.Private[int | None]
    id: strawberry.ID
    partnership: str
    title: str
    year: str
    period: Period
    discrepancy_threshold: Decimal
    version: int
    created_at: datetime
    created_by: str
    modified_at: datetime

    @classmethod
    def from_row(cls, r: Row, at: int | None = None) -> Plan:
        return cls(
            at=at,
            id=strawberry.ID(str(r["id"])),
            partnership=r["partnership"],
            title=r["title"],
            year=r["year"],
            period=Period(start=r["period_start"], end=r["period_end"]),
            discrepancy_threshold=r["discrepancy_threshold"],
            version=r["version"],
            created_at=r["created_at"],
            created_by=r["created_by"],
            modified_at=r["modified_at"],
        )

    @strawberry.field(description="The plan's themes, in the order they were added.")
    async def themes(self, info: Info) -> list[Theme]:
        rows = await info.context.loaders.at(self.at).themes.load(UUID(self.id))
        return [Theme.from_row(r, self.at) for r in rows]

    @strawberry.field(description="Every measure of the plan, by number.")
    async def measures(self, info: Info) -> list[Measure]:
        rows = await info.context.loaders.at(self.at).measures.load(UUID(self.id))
        return [Measure.from_row(r, self.at) for r in rows]

    @strawberry.field(description="The quarters opened for collection, with the dates their returns are due.")
    async def collections(self, info: Info) -> list[Collection]:
        rows = await info.context.loaders.at(self.at).collections.load(UUID(self.id))
        return [Collection.from_row(r) for r in rows]

    @strawberry.field(description="The quarters' reports as presented, in the order they were published.")
    async def publications(self, info: Info) -> list[Publication]:
        rows = await info.context.loaders.at(self.at).publications.load(UUID(self.id))
        return [Publication.from_row(r) for r in rows]


@strawberry.type
class Theme:
    at: strawberry.Private[int | None]
    id: strawberry.ID = strawberry.field(description="Stable and opaque: `Theme:<plan id>:<theme code>`.")
    plan_id: strawberry.ID
    code: str
    title: str

    @classmethod
    def from_row(cls, r: Row, at: int | None = None) -> Theme:
        return cls(
            at=at,
            id=object_id("Theme", r["plan_id"], r["code"]),
            plan_id=strawberry.ID(str(r["plan_id"])),
            code=r["code"],
            title=r["title"],
        )

    @strawberry.field(description="The theme's measures, by number.")
    async def measures(self, info: Info) -> list[Measure]:
        rows = await info.context.loaders.at(self.at).measures.load(UUID(self.plan_id))
        return [Measure.from_row(r, self.at) for r in rows if r["theme_code"] == self.code]
