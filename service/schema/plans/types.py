"""A plan: its reporting period, its themes, and the measures of each."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

import strawberry
from strawberry.types import Info

from service.schema.columns import from_columns
from service.schema.cycle.types import Collection, Publication
from service.schema.descriptions import DISCREPANCY_THRESHOLD, PLAN_TITLE, PLAN_YEAR, THEME_CODE
from service.schema.ids import object_id
from service.schema.loaders import Row
from service.schema.measures.types import Measure


@strawberry.type(description="A plan's reporting period, both days included.")
class Period:
    start: date = strawberry.field(description="The first day, e.g. `2012-04-01`.")
    end: date = strawberry.field(description="The last day, e.g. `2013-03-31`.")


@strawberry.type(
    description="One partnership's plan for a reporting year: its themes and measures. Needs the viewer "
    "role in its partnership (as a publication showed it, too); read asOf a moment, the auditor role."
)
class Plan:
    at: strawberry.Private[int | None]
    id: strawberry.ID = strawberry.field(
        description="Stable and opaque: the plan's UUID. Pass it as `planId` or `plan(id:)`."
    )
    partnership: str = strawberry.field(
        description="The partnership whose plan it is, e.g. `Safer Stockton Partnership`."
    )
    title: str = strawberry.field(description=f"{PLAN_TITLE}.")
    year: str = strawberry.field(description=PLAN_YEAR)
    period: Period = strawberry.field(description="The reporting period: Q1 starts at its start.")
    discrepancy_threshold: Decimal = strawberry.field(description=f"{DISCREPANCY_THRESHOLD}, e.g. `1`.")
    version: int = strawberry.field(
        description="Counts the plan's own events (themes, collections, publications); pass it as `expectedVersion`."
    )
    created_at: datetime = strawberry.field(description="When the plan was created (UTC).")
    created_by: str = strawberry.field(description="Who created the plan.")
    modified_at: datetime = strawberry.field(
        description="When the plan's own record last changed (UTC); a measure's write does not change it."
    )

    @classmethod
    def from_row(cls, r: Row, at: int | None = None) -> Plan:
        return from_columns(
            cls, r, at=at, id=strawberry.ID(str(r["id"])), period=Period(start=r["period_start"], end=r["period_end"])
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


@strawberry.type(description="A numbered group of a plan's measures, e.g. 5 Criminal damage targets.")
class Theme:
    at: strawberry.Private[int | None]
    id: strawberry.ID = strawberry.field(description="Stable and opaque: `Theme:<plan id>:<theme code>`.")
    plan_id: strawberry.ID = strawberry.field(description="The plan's `id`.")
    code: str = strawberry.field(description=THEME_CODE)
    title: str = strawberry.field(description="The theme's title, e.g. `Criminal damage targets`.")

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
