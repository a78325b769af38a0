"""Object types of the read side: plans, themes, measures and their figures."""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar
from uuid import UUID

import strawberry
from strawberry.types import Info

from domain.rules import round1
from service.auth.policy import Action
from service.schema.audit_entry import AuditEntry
from service.schema.context import Target
from service.schema.enums import Basis, Direction, Quarter, Status
from service.schema.fast_fields import NOT_READY, ready_in
from service.schema.loaders import Loaders, Row
from service.schema.selection import loaded, now_or_later, selects


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
        rows = await info.context.loaders.at(self.at).themes.load(_uuid(self.id))
        return [Theme.from_row(r, self.at) for r in rows]

    @strawberry.field(description="Every measure of the plan, by number.")
    async def measures(self, info: Info) -> list[Measure]:
        loaders = info.context.loaders.at(self.at)
        rows = await loaders.measures.load(_uuid(self.id))
        return await read_ahead(info, loaders, [Measure.from_row(r, self.at) for r in rows])


@strawberry.type
class Theme:
    at: strawberry.Private[int | None]
    plan_id: strawberry.ID
    code: str
    title: str

    @classmethod
    def from_row(cls, r: Row, at: int | None = None) -> Theme:
        return cls(at=at, plan_id=strawberry.ID(str(r["plan_id"])), code=r["code"], title=r["title"])

    @strawberry.field(description="The theme's measures, by number.")
    async def measures(self, info: Info) -> list[Measure]:
        loaders = info.context.loaders.at(self.at)
        rows = [r for r in await loaders.measures.load(_uuid(self.plan_id)) if r["theme_code"] == self.code]
        return await read_ahead(info, loaders, [Measure.from_row(r, self.at) for r in rows])


@strawberry.type
class Baseline:
    value: Decimal | None
    numerator: Decimal | None
    denominator: Decimal | None
    period: str | None
    profile: list[Decimal] | None
    note: str | None
    is_reset: bool
    reason: str | None
    recorded_at: datetime
    recorded_by: str
    discrepancy: bool = strawberry.field(description="True where a stated rate contradicts its own fraction.")
    discrepancy_reason: str | None

    @classmethod
    def from_row(cls, r: Row) -> Baseline:
        return cls(
            value=r["value"],
            numerator=r["numerator"],
            denominator=r["denominator"],
            period=r["period"],
            profile=list(r["profile"]) if r["profile"] is not None else None,
            note=r["note"],
            is_reset=r["is_reset"],
            reason=r["reason"],
            recorded_at=r["recorded_at"],
            recorded_by=r["recorded_by"],
            discrepancy=r["discrepancy"],
            discrepancy_reason=r["discrepancy_reason"],
        )


@strawberry.type
class Figure:
    component: str
    quarter: Quarter
    value: Decimal | None
    numerator: Decimal | None
    denominator: Decimal | None
    available: bool
    unavailable_reason: str | None
    measured: Decimal | None = strawberry.field(
        description="The number compared with the baseline: the rate for RATE measures, else the value."
    )
    comparison_value: Decimal | None
    change_exact: Decimal | None = strawberry.field(
        description="The change, unrounded: percent, or percentage points for RATE."
    )
    status: Status
    rule: str = strawberry.field(description="Why the status is what it is, from the rule that decided it.")
    reported_change: Decimal | None
    discrepancy: bool
    discrepancy_reason: str | None
    commentary: str | None
    revision: int
    reason: str | None = strawberry.field(description="Why this figure was last revised or marked unavailable.")
    recorded_at: datetime
    recorded_by: str
    # A value, not a resolver: a plain field is completed without graphql-core's per-field cost
    # (service/schema/fast_fields.py), and a dashboard asks for it on every figure.
    change: Decimal | None = strawberry.field(description="The change, rounded half-up to one decimal place.")

    @classmethod
    def from_row(cls, r: Row) -> Figure:
        return cls(
            component=r["component"],
            quarter=_member(Quarter, r["quarter"]),
            value=r["value"],
            numerator=r["numerator"],
            denominator=r["denominator"],
            available=r["available"],
            unavailable_reason=r["unavailable_reason"],
            measured=r["measured"],
            comparison_value=r["comparison_value"],
            change_exact=r["change"],
            change=round1(r["change"]) if r["change"] is not None else None,
            status=_member(Status, r["status"]),
            rule=r["rule"],
            reported_change=r["reported_change"],
            discrepancy=r["discrepancy"],
            discrepancy_reason=r["discrepancy_reason"],
            commentary=r["commentary"],
            revision=r["revision"],
            reason=r["reason"],
            recorded_at=r["recorded_at"],
            recorded_by=r["recorded_by"],
        )


@strawberry.type
class Component:
    at: strawberry.Private[int | None]
    measure_id: strawberry.Private[UUID]
    key: str
    label: str
    # What the resolvers below would answer, when read_ahead has already worked it out (fast_fields.ready_in).
    ready_baseline: strawberry.Private[Any] = NOT_READY
    ready_baseline_history: strawberry.Private[Any] = NOT_READY
    ready_figures: strawberry.Private[Any] = NOT_READY

    # The resolvers return at once when the rows are already loaded (see read_ahead), an awaitable otherwise.

    @strawberry.field(description="The baseline in force now.", graphql_type=Baseline | None)
    @ready_in("ready_baseline")
    def baseline(self, info: Info) -> Baseline | None | Awaitable[Baseline | None]:
        return now_or_later(self.latest_baseline, info.context.loaders.at(self.at).baselines.load(self.measure_id))

    @strawberry.field(description="Every baseline this component has had, oldest first.", graphql_type=list[Baseline])
    @ready_in("ready_baseline_history")
    def baseline_history(self, info: Info) -> list[Baseline] | Awaitable[list[Baseline]]:
        return now_or_later(self.baselines, info.context.loaders.at(self.at).baselines.load(self.measure_id))

    @strawberry.field(description="The component's figures, one per quarter reported.", graphql_type=list[Figure])
    @ready_in("ready_figures")
    def figures(self, info: Info) -> list[Figure] | Awaitable[list[Figure]]:
        return now_or_later(self.own_figures, info.context.loaders.at(self.at).figures.load(self.measure_id))

    def latest_baseline(self, rows: list[Row]) -> Baseline | None:
        own = [r for r in rows if r["component"] == self.key]
        return Baseline.from_row(own[-1]) if own else None

    def baselines(self, rows: list[Row]) -> list[Baseline]:
        return [Baseline.from_row(r) for r in rows if r["component"] == self.key]

    def own_figures(self, rows: list[Row], figure: Callable[[Row], Figure] = Figure.from_row) -> list[Figure]:
        return [figure(r) for r in rows if r["component"] == self.key]


@strawberry.type
class Override:
    status: Status
    reason: str
    recorded_by: str
    recorded_at: datetime


@strawberry.type
class ComponentResult:
    key: str
    figure: Figure | None


@strawberry.type
class QuarterResult:
    at: strawberry.Private[int | None]
    measure_id: strawberry.Private[UUID]
    quarter: Quarter
    status: Status
    computed_status: Status
    override: Override | None
    commentary: str | None
    commentary_recorded_at: datetime | None
    commentary_recorded_by: str | None
    ready_components: strawberry.Private[Any] = NOT_READY  # as for Component's

    @classmethod
    def from_row(cls, r: Row, at: int | None = None) -> QuarterResult:
        override = None
        if r["override_status"] is not None:
            override = Override(
                status=_member(Status, r["override_status"]),
                reason=r["override_reason"],
                recorded_by=r["override_by"],
                recorded_at=r["override_at"],
            )
        return cls(
            at=at,
            measure_id=r["measure_id"],
            quarter=_member(Quarter, r["quarter"]),
            status=_member(Status, r["status"]),
            computed_status=_member(Status, r["computed_status"]),
            override=override,
            commentary=r["commentary"],
            commentary_recorded_at=r["commentary_at"],
            commentary_recorded_by=r["commentary_by"],
        )

    @strawberry.field(
        description="Each component's figure for this quarter, null where none was reported.",
        graphql_type=list[ComponentResult],
    )
    @ready_in("ready_components")
    def components(self, info: Info) -> list[ComponentResult] | Awaitable[list[ComponentResult]]:
        loaders = info.context.loaders.at(self.at)
        return now_or_later(
            self.results, loaders.components.load(self.measure_id), loaders.figures.load(self.measure_id)
        )

    def results(
        self, components: list[Row], figure_rows: list[Row], figure: Callable[[Row], Figure] = Figure.from_row
    ) -> list[ComponentResult]:
        quarter = self.quarter.value
        figures = {r["component"]: r for r in figure_rows if r["quarter"] == quarter}
        return [
            ComponentResult(key=c["key"], figure=figure(figures[c["key"]]) if c["key"] in figures else None)
            for c in components
        ]


@strawberry.type(description="One event of a measure, as an auditor reads it: the same entry as the audit trail's.")
class Revision(AuditEntry):
    pass


@strawberry.type
class Measure:
    at: strawberry.Private[int | None]
    id: strawberry.ID
    plan_id: strawberry.ID
    theme_code: str
    number: str
    title: str
    description: str | None
    direction: Direction
    basis: Basis
    tolerance: Decimal
    unit: str | None
    status: Status = strawberry.field(description="The status in the latest quarter with a figure or an override.")
    version: int
    modified_at: datetime
    ready_components: strawberry.Private[Any] = NOT_READY  # as for Component's
    ready_quarters: strawberry.Private[Any] = NOT_READY

    @classmethod
    def from_row(cls, r: Row, at: int | None = None) -> Measure:
        return cls(
            at=at,
            id=strawberry.ID(str(r["id"])),
            plan_id=strawberry.ID(str(r["plan_id"])),
            theme_code=r["theme_code"],
            number=r["number"],
            title=r["title"],
            description=r["description"],
            direction=_member(Direction, r["direction"]),
            basis=_member(Basis, r["basis"]),
            tolerance=r["tolerance"],
            unit=r["unit"],
            status=_member(Status, r["status"]),
            version=r["version"],
            modified_at=r["modified_at"],
        )

    @strawberry.field
    async def plan(self, info: Info) -> Plan:
        row = await info.context.loaders.at(self.at).plan.load(_uuid(self.plan_id))
        return Plan.from_row(row, self.at)

    @strawberry.field
    async def theme(self, info: Info) -> Theme | None:
        rows = await info.context.loaders.at(self.at).themes.load(_uuid(self.plan_id))
        return next((Theme.from_row(r, self.at) for r in rows if r["code"] == self.theme_code), None)

    @strawberry.field(graphql_type=list[Component])
    @ready_in("ready_components")
    def components(self, info: Info) -> list[Component] | Awaitable[list[Component]]:
        return now_or_later(self.components_of, info.context.loaders.at(self.at).components.load(_uuid(self.id)))

    @strawberry.field(description="One result per quarter, Q1 to Q4.", graphql_type=list[QuarterResult])
    @ready_in("ready_quarters")
    def quarters(self, info: Info) -> list[QuarterResult] | Awaitable[list[QuarterResult]]:
        return now_or_later(self.quarters_of, info.context.loaders.at(self.at).quarters.load(_uuid(self.id)))

    def components_of(self, rows: list[Row]) -> list[Component]:
        measure_id = _uuid(self.id)
        return [Component(at=self.at, measure_id=measure_id, key=r["key"], label=r["label"]) for r in rows]

    def quarters_of(self, rows: list[Row]) -> list[QuarterResult]:
        return [QuarterResult.from_row(r, self.at) for r in rows]

    @strawberry.field(description="Every event of this measure, oldest first: who, when, what changed and why.")
    async def history(self, info: Info) -> list[Revision]:
        loaders = info.context.loaders.at(self.at)
        plan = await loaders.plan.load(_uuid(self.plan_id))
        info.context.require(Action.READ_AUDIT, Target(plan["partnership"]) if plan else None)
        rows = await loaders.history.load(_uuid(self.id))
        return [Revision.from_row(r) for r in rows]


E = TypeVar("E", bound=enum.Enum)
# Enum(value) looks a member up the slow way (≈ 1.5 µs); a dashboard builds several hundred.
_MEMBERS: dict[type[enum.Enum], dict[Any, enum.Enum]] = {}


def _member(kind: type[E], value: Any) -> E:
    members = _MEMBERS.get(kind)
    if members is None:
        members = _MEMBERS[kind] = {m.value: m for m in kind}
    found = members.get(value)
    return found if found is not None else kind(value)  # type: ignore[return-value]


def _uuid(raw: str) -> UUID:
    return UUID(str(raw))


async def read_ahead(info: Info, loaders: Loaders, measures: list[Measure]) -> list[Measure]:
    """These measures, with what the query asks of each below them already worked out.

    The rows the query will ask of each measure (components, quarters, baselines, figures)
    are loaded for all of them at once: the rows the DataLoaders would have batched anyway,
    one query per table. From them each measure gets its components and quarters ready-made,
    each component its baseline and figures, each quarter its components: exactly what those
    fields' resolvers would answer from the same rows. graphql-core then completes the whole
    tree as plain values (fast_fields.py) instead of calling hundreds of small resolvers, a
    dashboard's largest cost. A field whose rows failed to load is left to its resolver, which
    reports the error where it would have without reading ahead.
    """
    components, quarters = selects(info, "components"), selects(info, "quarters")
    baseline = components and selects(info, "components", "baseline")
    history = components and selects(info, "components", "baselineHistory")
    figures = components and selects(info, "components", "figures")
    by_quarter = quarters and selects(info, "quarters", "components")
    wanted = []
    if components or by_quarter:
        wanted.append(loaders.components)
    if baseline or history:
        wanted.append(loaders.baselines)
    if figures or by_quarter:
        wanted.append(loaders.figures)
    if quarters:
        wanted.append(loaders.quarters)
    if not wanted or not measures:
        return measures
    ids = [_uuid(m.id) for m in measures]
    await asyncio.gather(*(loader.load(i) for loader in wanted for i in ids), return_exceptions=True)
    # A figure appears under its component and under its quarter: one object for both (nothing changes it).
    built: dict[int, Figure] = {}

    def figure(row: Row) -> Figure:
        found = built.get(id(row))  # the rows live in the loader for the whole request
        if found is None:
            found = built[id(row)] = Figure.from_row(row)
        return found

    for measure, measure_id in zip(measures, ids, strict=True):
        component_rows = loaded(loaders.components, measure_id) if components or by_quarter else None
        figure_rows = loaded(loaders.figures, measure_id) if figures or by_quarter else None
        if components and component_rows is not None:
            baseline_rows = loaded(loaders.baselines, measure_id) if baseline or history else None
            measure.ready_components = measure.components_of(component_rows)
            for component in measure.ready_components:
                if baseline_rows is not None:
                    if baseline:
                        component.ready_baseline = component.latest_baseline(baseline_rows)
                    if history:
                        component.ready_baseline_history = component.baselines(baseline_rows)
                if figures and figure_rows is not None:
                    component.ready_figures = component.own_figures(figure_rows, figure)
        quarter_rows = loaded(loaders.quarters, measure_id) if quarters else None
        if quarter_rows is not None:
            measure.ready_quarters = measure.quarters_of(quarter_rows)
            if by_quarter and component_rows is not None and figure_rows is not None:
                for quarter in measure.ready_quarters:
                    quarter.ready_components = quarter.results(component_rows, figure_rows, figure)
    return measures
