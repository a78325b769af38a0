"""A measure: its definition, its components with their baselines and figures, and its quarters' results."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Annotated
from uuid import UUID

import strawberry
from strawberry.types import Info

from domain.rules import round1
from service import audit_trail as trail
from service.auth.policy import Action
from service.schema.access import spanning
from service.schema.audit.queries import audit_rows
from service.schema.audit.types import Revision
from service.schema.columns import from_columns
from service.schema.cycle.types import Owner, QuarterReturn
from service.schema.descriptions import (
    BASELINE_NOTE,
    BASELINE_PERIOD,
    BASELINE_PROFILE,
    BASIS,
    DIRECTION,
    FIGURE_COMMENTARY,
    MEASURE_DESCRIPTION,
    MEASURE_NUMBER,
    MEASURE_TITLE,
    RECORDED_AT,
    RECORDED_BY,
    STATUS_BEFORE_OVERRIDE,
    UNIT,
)
from service.schema.enums import Basis, Direction, Quarter, Status, member
from service.schema.ids import object_id
from service.schema.loaders import Row
from service.schema.pages import DEFAULT_PAGE, MAX_PAGE, After, Connection, First, page_size
from service.schema.targets import Target

# A measure's plan and theme are types of plans/types.py, which lists a plan's measures: named lazily
# here (strawberry's LazyType, resolved when the schema is built), so the two modules do not import
# each other.
PlanType = strawberry.LazyType("Plan", "service.schema.plans.types")
ThemeType = strawberry.LazyType("Theme", "service.schema.plans.types")


@strawberry.type(description="A component's reference amount, for a named period: what its figures are compared with.")
class Baseline:
    id: strawberry.ID = strawberry.field(
        description="Stable and opaque: `Baseline:<measure id>:<component key>:<n>`, the component's n-th baseline."
    )
    value: Decimal | None = strawberry.field(
        description="The amount: a count, or a rate in percent; for a rate given as a fraction, the value as "
        "stated (null if none was)."
    )
    numerator: Decimal | None = strawberry.field(description="A rate's numerator; null unless given as a fraction.")
    denominator: Decimal | None = strawberry.field(description="A rate's denominator; null unless given as a fraction.")
    period: str | None = strawberry.field(description=BASELINE_PERIOD)
    profile: list[Decimal] | None = strawberry.field(description=BASELINE_PROFILE)
    note: str | None = strawberry.field(description=BASELINE_NOTE)
    is_reset: bool = strawberry.field(description="True for a baseline that superseded an earlier one (resetBaseline).")
    reason: str | None = strawberry.field(description="Why it was reset; null for the first baseline.")
    recorded_at: datetime = strawberry.field(description=RECORDED_AT)
    recorded_by: str = strawberry.field(description=RECORDED_BY)
    discrepancy: bool = strawberry.field(description="True where a stated rate contradicts its own fraction.")
    discrepancy_reason: str | None = strawberry.field(
        description="Why `discrepancy` is true, e.g. `stated rate 56% but 38 of 76 is 50.0%`; null when false."
    )
    rate: Decimal | None = strawberry.field(
        description="The rate in percent, where the baseline is one: worked out exactly from its numerator and "
        "denominator when it has them (36 of 46 is 78.26…, whatever `value` states), else `value` for a RATE "
        "measure. Null for a count."
    )

    @classmethod
    def from_row(cls, r: Row) -> Baseline:
        return from_columns(
            cls,
            r,
            id=object_id("Baseline", r["measure_id"], r["component"], r["seq"]),
            profile=list(r["profile"]) if r["profile"] is not None else None,
        )


@strawberry.type(
    description="A component's reported figure for a quarter, its latest revision, with its comparison, "
    "change and status. Its `id` stays the same through revisions."
)
class Figure:
    measure_id: strawberry.Private[UUID]
    at: strawberry.Private[int | None]
    id: strawberry.ID = strawberry.field(
        description="Stable and opaque: `Figure:<measure id>:<component key>:<quarter>`, the same across revisions."
    )
    component: str = strawberry.field(description="Its component's key.")
    quarter: Quarter = strawberry.field(description="The quarter it reports.")
    value: Decimal | None = strawberry.field(
        description="The figure: a count, or a rate in percent as stated; null for an unavailable figure, or a "
        "rate given only as a fraction."
    )
    numerator: Decimal | None = strawberry.field(description="A rate's numerator; null unless given as a fraction.")
    denominator: Decimal | None = strawberry.field(description="A rate's denominator; null unless given as a fraction.")
    available: bool = strawberry.field(
        description="False when it was marked unavailable (then value is null and status NO_DATA)."
    )
    unavailable_reason: str | None = strawberry.field(description="Why it could not be had; null while available.")
    measured: Decimal | None = strawberry.field(
        description="The number compared with the baseline: the rate for RATE measures, else the value."
    )
    comparison_value: Decimal | None = strawberry.field(
        description="What the figure is held against: worked out from the baseline by the basis (e.g. 2472 × "
        "2/4 = 1236); null when nothing is compared."
    )
    change_exact: Decimal | None = strawberry.field(
        description="The change, unrounded: percent, or percentage points for RATE."
    )
    status: Status = strawberry.field(
        description="Its verdict: ON_TRACK, AT_RISK, OFF_TRACK, NO_DATA or NOT_ASSESSED (docs/rules.md)."
    )
    rule: str = strawberry.field(description="Why the status is what it is, from the rule that decided it.")
    reported_change: Decimal | None = strawberry.field(
        description="The change the report itself stated (percent, points for RATE); null if none."
    )
    discrepancy: bool = strawberry.field(
        description="True where the stated change or rate disagrees with the computed one by the plan's "
        "threshold or more; flagged, never corrected."
    )
    discrepancy_reason: str | None = strawberry.field(
        description="Why `discrepancy` is true, e.g. `reported change -28.1 but computed -17.7`; null when false."
    )
    commentary: str | None = strawberry.field(description=FIGURE_COMMENTARY)
    revision: int = strawberry.field(
        description="1 when first reported; one more with each revision or unavailable mark."
    )
    reason: str | None = strawberry.field(description="Why this figure was last revised or marked unavailable.")
    recorded_at: datetime = strawberry.field(description="When this revision was recorded (UTC).")
    recorded_by: str = strawberry.field(description="Who recorded this revision.")
    change: Decimal | None = strawberry.field(description="The change, rounded half-up to one decimal place.")
    rate: Decimal | None = strawberry.field(
        description="The rate in percent, where the figure is one: worked out exactly from its numerator and "
        "denominator when it has them (13 of 21 is 61.90…, and `value` may then be null or a stated rate), else "
        "`value` for a RATE measure. Null for a count."
    )
    progress: Decimal | None = strawberry.field(
        description="TARGET_COUNT only: the figure as a percentage of the year's target, unrounded (2 analyses "
        "of a target of 4 is 50). Null for other bases, without a baseline, or for a target of zero."
    )
    baseline_seq: strawberry.Private[int | None]

    @classmethod
    def from_row(cls, r: Row, at: int | None = None) -> Figure:
        return from_columns(
            cls,
            r,
            at=at,
            id=object_id("Figure", r["measure_id"], r["component"], r["quarter"]),
            quarter=member(Quarter, r["quarter"]),
            change_exact=r["change"],
            change=round1(r["change"]) if r["change"] is not None else None,
            status=member(Status, r["status"]),
        )

    @strawberry.field(
        description="The baseline this figure was compared with: the component's baseline in force when read (now, "
        "or at `asOf`), so after a reset the new one, and read at a moment before it the one then. Null where "
        "the component had none."
    )
    async def baseline(self, info: Info) -> Baseline | None:
        if self.baseline_seq is None:
            return None
        rows = await info.context.loaders.at(self.at).baselines.load(self.measure_id)
        found = (r for r in rows if r["component"] == self.component and r["seq"] == self.baseline_seq)
        row = next(found, None)
        return Baseline.from_row(row) if row is not None else None

    @strawberry.field(
        description="This figure's own history: its submission, revisions and unavailable marks, each an audit "
        "entry with every field it changed (`changes`), oldest first, in keyset pages of `first` entries (default "
        f"{DEFAULT_PAGE}, at most {MAX_PAGE}) after the cursor `after`, as `Measure.historyConnection`. Needs the "
        "auditor role. Read asOf a moment, it stops at that moment."
    )
    async def history(
        self,
        info: Info,
        first: Annotated[
            int | None, strawberry.argument(description=f"How many entries, 0 to {MAX_PAGE}; {DEFAULT_PAGE} if null.")
        ] = None,
        after: Annotated[
            str | None, strawberry.argument(description="A cursor: the entries after it; from the first if null.")
        ] = None,
    ) -> Connection[Revision]:
        size = page_size(first)
        await spanning(info.context, Action.READ_AUDIT, None, self.measure_id)
        slot = trail.Selection(
            measure_id=self.measure_id, component=self.component, quarter=self.quarter.value, until=self.at
        )
        rows, more = await audit_rows(info, slot, size, after)
        return Connection.of([Revision.from_row(r) for r in rows], lambda e: e.cursor, after, more)

    @strawberry.field(
        description="True when the figure changed after the latest publication showing its quarter (a publication "
        "of that quarter or a later one): that report showed another revision of it, or none."
    )
    async def revised_after_publication(self, info: Info) -> bool:
        revised = await info.context.loaders.at(self.at).revised.load(self.measure_id)
        return (self.component, self.quarter.value) in revised


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
