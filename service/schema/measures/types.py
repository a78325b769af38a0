"""A measure: its definition, its components with their baselines and figures, and its quarters' results."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from uuid import UUID

import strawberry
from strawberry.types import Info

from service import audit_trail as trail
from service.auth.policy import Action
from service.schema.audit.queries import audit_rows
from service.schema.audit.types import Revision
from service.schema.columns import from_columns
from service.schema.cycle.types import Owner, QuarterReturn
from service.schema.descriptions import (
    BASIS,
    DIRECTION,
    MEASURE_DESCRIPTION,
    MEASURE_NUMBER,
    MEASURE_TITLE,
    RECORDED_AT,
    RECORDED_BY,
    STATUS_BEFORE_OVERRIDE,
    UNIT,
)
from service.schema.enums import Basis, Direction, Quarter, Status, member
from service.schema.figures.types import Baseline, Figure
from service.schema.ids import object_id
from service.schema.loaders import Row
from service.schema.pages import DEFAULT_PAGE, MAX_PAGE, After, Connection, First, page_size
from service.schema.targets import Target

# A measure's plan and theme are types of plans/types.py, which lists a plan's measures: named lazily
# here (strawberry's LazyType, resolved when the schema is built), so the two modules do not import
# each other.
PlanType = strawberry.LazyType("Plan", "service.schema.plans.types")
ThemeType = strawberry.LazyType("Theme", "service.schema.plans.types")


@strawberry.type(
    description="One part of a measure that is reported on its own (a ward, an offence type), with its "
    "baselines and figures."
)
class Component:
    at: strawberry.Private[int | None]
    measure_id: strawberry.Private[UUID]
    id: strawberry.ID = strawberry.field(description="Stable and opaque: `Component:<measure id>:<component key>`.")
    key: str = strawberry.field(description="Its key, unique in the measure, e.g. `criminal-damage`.")
    label: str = strawberry.field(description="Its label for people, e.g. `Criminal damage offences`.")

    @strawberry.field(description="The baseline in force now.")
    async def baseline(self, info: Info) -> Baseline | None:
        return self.latest_baseline(await info.context.loaders.at(self.at).baselines.load(self.measure_id))

    @strawberry.field(description="Every baseline this component has had, oldest first.")
    async def baseline_history(self, info: Info) -> list[Baseline]:
        return self.baselines(await info.context.loaders.at(self.at).baselines.load(self.measure_id))

    @strawberry.field(description="The component's figures, one per quarter reported.")
    async def figures(self, info: Info) -> list[Figure]:
        rows = await info.context.loaders.at(self.at).figures.load(self.measure_id)
        return self.own_figures(rows, lambda r: Figure.from_row(r, self.at))

    def latest_baseline(self, rows: list[Row]) -> Baseline | None:
        own = [r for r in rows if r["component"] == self.key]
        return Baseline.from_row(own[-1]) if own else None

    def baselines(self, rows: list[Row]) -> list[Baseline]:
        return [Baseline.from_row(r) for r in rows if r["component"] == self.key]

    def own_figures(self, rows: list[Row], figure: Callable[[Row], Figure] = Figure.from_row) -> list[Figure]:
        """This component's figures among a measure's; `figure` builds each (a row's may be shared)."""
        return [figure(r) for r in rows if r["component"] == self.key]


@strawberry.type(description="A status set by hand over the computed one, with its reason.")
class Override:
    status: Status = strawberry.field(description="The status shown instead of the computed one.")
    reason: str = strawberry.field(description="Why it was overridden.")
    recorded_by: str = strawberry.field(description=RECORDED_BY)
    recorded_at: datetime = strawberry.field(description=RECORDED_AT)


@strawberry.type(description="One component's figure in one quarter.")
class ComponentResult:
    key: str = strawberry.field(description="The component's key.")
    figure: Figure | None = strawberry.field(description="Its figure for the quarter; null where none was reported.")


@strawberry.type(
    description="A measure's result in one quarter: its status (worst of its components', or an override) "
    "and commentary."
)
class QuarterResult:
    at: strawberry.Private[int | None]
    measure_id: strawberry.Private[UUID]
    id: strawberry.ID = strawberry.field(description="Stable and opaque: `QuarterResult:<measure id>:<quarter>`.")
    quarter: Quarter = strawberry.field(description="The quarter.")
    status: Status = strawberry.field(
        description="The status shown: the override's if there is one, else `computedStatus`."
    )
    computed_status: Status = strawberry.field(description=STATUS_BEFORE_OVERRIDE)
    override: Override | None = strawberry.field(description="The override in force; null for none.")
    commentary: str | None = strawberry.field(description="The officer's narrative for the quarter; null for none.")
    commentary_recorded_at: datetime | None = strawberry.field(
        description="When the commentary was last changed (UTC); null for none."
    )
    commentary_recorded_by: str | None = strawberry.field(description="Who last changed the commentary; null for none.")

    @classmethod
    def from_row(cls, r: Row, at: int | None = None) -> QuarterResult:
        override = None
        if r["override_status"] is not None:
            override = Override(
                status=member(Status, r["override_status"]),
                reason=r["override_reason"],
                recorded_by=r["override_by"],
                recorded_at=r["override_at"],
            )
        return from_columns(
            cls,
            r,
            at=at,
            id=object_id("QuarterResult", r["measure_id"], r["quarter"]),
            quarter=member(Quarter, r["quarter"]),
            status=member(Status, r["status"]),
            computed_status=member(Status, r["computed_status"]),
            override=override,
            commentary_recorded_at=r["commentary_at"],
            commentary_recorded_by=r["commentary_by"],
        )

    @strawberry.field(description="Each component's figure for this quarter, null where none was reported.")
    async def components(self, info: Info) -> list[ComponentResult]:
        loaders = info.context.loaders.at(self.at)
        components, figures = loaders.components.load(self.measure_id), loaders.figures.load(self.measure_id)
        return self.results(await components, await figures, lambda r: Figure.from_row(r, self.at))

    def results(
        self, components: list[Row], figure_rows: list[Row], figure: Callable[[Row], Figure] = Figure.from_row
    ) -> list[ComponentResult]:
        quarter = self.quarter.value
        figures = {r["component"]: r for r in figure_rows if r["quarter"] == quarter}
        return [
            ComponentResult(key=c["key"], figure=figure(figures[c["key"]]) if c["key"] in figures else None)
            for c in components
        ]


@strawberry.type(
    description="A numbered target of a plan: its definition, components, baselines, figures and quarterly "
    "statuses. Needs the viewer role in its plan's partnership; `history`, asOf: the auditor "
    "role."
)
class Measure:
    at: strawberry.Private[int | None]
    id: strawberry.ID = strawberry.field(
        description="Stable and opaque: the measure's UUID. Pass it as `measureId` or `measure(id:)`."
    )
    plan_id: strawberry.ID = strawberry.field(description="Its plan's `id`.")
    theme_code: str = strawberry.field(description="Its theme's code, e.g. `5`.")
    number: str = strawberry.field(description=MEASURE_NUMBER)
    title: str = strawberry.field(description=MEASURE_TITLE)
    description: str | None = strawberry.field(description=MEASURE_DESCRIPTION)
    direction: Direction = strawberry.field(description=DIRECTION)
    basis: Basis = strawberry.field(description=BASIS)
    tolerance: Decimal = strawberry.field(
        description="The band around the comparison value that counts as at risk: percent, or percentage points"
        " for RATE, e.g. `5`."
    )
    unit: str | None = strawberry.field(description=UNIT)
    status: Status = strawberry.field(description="The status in the latest quarter with a figure or an override.")
    version: int = strawberry.field(description="Counts the measure's events; pass it as `expectedVersion`.")
    modified_at: datetime = strawberry.field(
        description="When the measure last changed (UTC): any write to it, figures included."
    )

    @classmethod
    def from_row(cls, r: Row, at: int | None = None) -> Measure:
        return from_columns(
            cls,
            r,
            at=at,
            id=strawberry.ID(str(r["id"])),
            plan_id=strawberry.ID(str(r["plan_id"])),
            direction=member(Direction, r["direction"]),
            basis=member(Basis, r["basis"]),
            status=member(Status, r["status"]),
        )

    @strawberry.field(description="Its plan, read at the same moment as the measure.")
    async def plan(self, info: Info) -> PlanType:
        row = await info.context.loaders.at(self.at).plan.load(UUID(self.plan_id))
        return PlanType.resolve_type().from_row(row, self.at)

    @strawberry.field(description="Its theme; null only if the theme is unknown at that moment.")
    async def theme(self, info: Info) -> ThemeType | None:
        rows = await info.context.loaders.at(self.at).themes.load(UUID(self.plan_id))
        theme = ThemeType.resolve_type()
        return next((theme.from_row(r, self.at) for r in rows if r["code"] == self.theme_code), None)

    @strawberry.field(description="Its components, in the order defined.")
    async def components(self, info: Info) -> list[Component]:
        return self.components_of(await info.context.loaders.at(self.at).components.load(UUID(self.id)))

    @strawberry.field(description="One result per quarter, Q1 to Q4.")
    async def quarters(self, info: Info) -> list[QuarterResult]:
        return self.quarters_of(await info.context.loaders.at(self.at).quarters.load(UUID(self.id)))

    def components_of(self, rows: list[Row]) -> list[Component]:
        measure_id = UUID(self.id)
        return [
            Component(
                at=self.at,
                measure_id=measure_id,
                id=object_id("Component", measure_id, r["key"]),
                key=r["key"],
                label=r["label"],
            )
            for r in rows
        ]

    def quarters_of(self, rows: list[Row]) -> list[QuarterResult]:
        return [QuarterResult.from_row(r, self.at) for r in rows]

    @strawberry.field(description="Who reports the measure, and for which partner agency; null until assigned.")
    async def owner(self, info: Info) -> Owner | None:
        row = await info.context.loaders.at(self.at).owner.load(UUID(self.id))
        return Owner.from_row(row) if row else None

    @strawberry.field(description="The measure's return for each quarter, Q1 to Q4.")
    async def returns(self, info: Info) -> list[QuarterReturn]:
        rows = {r["quarter"]: r for r in await info.context.loaders.at(self.at).returns.load(UUID(self.id))}
        return [QuarterReturn.from_row(UUID(self.id), q, rows.get(q.value)) for q in Quarter]

    @strawberry.field(
        description="Every event of this measure, oldest first: who, when, what changed and why. Needs the "
        "auditor role (FORBIDDEN otherwise). It grows with every write: `historyConnection` pages it."
    )
    async def history(self, info: Info) -> list[Revision]:
        await self._may_read_history(info)
        rows = await info.context.loaders.at(self.at).history.load(UUID(self.id))
        return [Revision.from_row(r) for r in rows]

    @strawberry.field(
        description="`history` in keyset pages of `first` entries (default "
        f"{DEFAULT_PAGE}, at most {MAX_PAGE}), oldest first, after the cursor `after` (an entry's `cursor`, "
        "or `pageInfo.endCursor`). Needs the auditor role. Read asOf a moment, it stops at that moment."
    )
    async def history_connection(
        self,
        info: Info,
        first: First = None,
        after: After = None,
    ) -> Connection[Revision]:
        await self._may_read_history(info)
        chosen = trail.Selection(measure_id=UUID(self.id), until=self.at)
        rows, more = await audit_rows(info, chosen, page_size(first), after)
        return Connection.of([Revision.from_row(r) for r in rows], lambda e: e.cursor, after, more)

    async def _may_read_history(self, info: Info) -> None:
        plan = await info.context.loaders.at(self.at).plan.load(UUID(self.plan_id))
        info.context.require(Action.READ_AUDIT, Target(plan["partnership"]) if plan else None)
