"""Mutations: each takes one input, records one event, and returns the state after it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

import strawberry
from strawberry.types import Info

from domain import commands
from domain.ledger import Written
from domain.measure import Definition, parse_definition
from domain.values import Amount, parse_amount
from service import read
from service.auth.policy import Action
from service.schema.context import Target
from service.schema.enums import Basis, Direction, Quarter, Status
from service.schema.errors import error, parse_id
from service.schema.types import Measure, Plan


@strawberry.input
class ComponentInput:
    key: str
    label: str


@strawberry.input
class CreatePlanInput:
    partnership: str
    title: str
    year: str
    period_start: date
    period_end: date
    discrepancy_threshold: Decimal | None = None
    idempotency_key: str | None = None


@strawberry.input
class AddThemeInput:
    plan_id: strawberry.ID
    code: str
    title: str
    expected_version: int | None = None
    idempotency_key: str | None = None


@strawberry.input
class DefineMeasureInput:
    plan_id: strawberry.ID
    theme_code: str
    number: str
    title: str
    direction: Direction
    basis: Basis
    components: list[ComponentInput]
    description: str | None = None
    tolerance: Decimal | None = None
    unit: str | None = None
    expected_version: int | None = None
    idempotency_key: str | None = None


@strawberry.input
class RedefineMeasureInput:
    measure_id: strawberry.ID
    title: str
    direction: Direction
    basis: Basis
    components: list[ComponentInput]
    reason: str
    description: str | None = None
    tolerance: Decimal | None = None
    unit: str | None = None
    expected_version: int | None = None
    idempotency_key: str | None = None


@strawberry.input
class SetBaselineInput:
    measure_id: strawberry.ID
    component: str
    value: Decimal | None = None
    numerator: Decimal | None = None
    denominator: Decimal | None = None
    period: str | None = None
    profile: list[Decimal] | None = None
    note: str | None = None
    expected_version: int | None = None
    idempotency_key: str | None = None


@strawberry.input
class ResetBaselineInput:
    measure_id: strawberry.ID
    component: str
    reason: str
    value: Decimal | None = None
    numerator: Decimal | None = None
    denominator: Decimal | None = None
    period: str | None = None
    profile: list[Decimal] | None = None
    note: str | None = None
    expected_version: int | None = None
    idempotency_key: str | None = None


@strawberry.input
class SubmitFigureInput:
    measure_id: strawberry.ID
    component: str
    quarter: Quarter
    value: Decimal | None = None
    numerator: Decimal | None = None
    denominator: Decimal | None = None
    reported_change: Decimal | None = None
    commentary: str | None = None
    expected_version: int | None = None
    idempotency_key: str | None = None


@strawberry.input
class ReviseFigureInput:
    measure_id: strawberry.ID
    component: str
    quarter: Quarter
    reason: str
    value: Decimal | None = None
    numerator: Decimal | None = None
    denominator: Decimal | None = None
    reported_change: Decimal | None = None
    commentary: str | None = None
    expected_version: int | None = None
    idempotency_key: str | None = None


@strawberry.input
class MarkFigureUnavailableInput:
    measure_id: strawberry.ID
    component: str
    quarter: Quarter
    reason: str
    expected_version: int | None = None
    idempotency_key: str | None = None


@strawberry.input
class UpdateCommentaryInput:
    measure_id: strawberry.ID
    quarter: Quarter
    text: str | None
    expected_version: int | None = None
    idempotency_key: str | None = None


@strawberry.input
class OverrideStatusInput:
    measure_id: strawberry.ID
    quarter: Quarter
    status: Status
    reason: str
    expected_version: int | None = None
    idempotency_key: str | None = None


@strawberry.input
class ClearStatusOverrideInput:
    measure_id: strawberry.ID
    quarter: Quarter
    reason: str
    expected_version: int | None = None
    idempotency_key: str | None = None


# Every input type above: service/schema/fast_inputs.py builds them.
INPUTS = (
    ComponentInput,
    CreatePlanInput,
    AddThemeInput,
    DefineMeasureInput,
    RedefineMeasureInput,
    SetBaselineInput,
    ResetBaselineInput,
    SubmitFigureInput,
    ReviseFigureInput,
    MarkFigureUnavailableInput,
    UpdateCommentaryInput,
    OverrideStatusInput,
    ClearStatusOverrideInput,
)


@strawberry.type
class PlanPayload:
    plan: Plan
    position: int | None = strawberry.field(description="The event's position in the ledger.")
    version: int
    replayed: bool = strawberry.field(description="True when an idempotency key returned an earlier result.")


@strawberry.type
class MeasurePayload:
    measure: Measure
    position: int | None = strawberry.field(description="The event's position in the ledger.")
    version: int
    replayed: bool = strawberry.field(description="True when an idempotency key returned an earlier result.")


async def _position(info: Info, w: Written) -> int | None:
    if w.position is not None:
        return w.position
    return await read.event_position(info.context.services.pool, w.id, w.version)


async def _plan_payload(info: Info, w: Written) -> PlanPayload:
    row = await info.context.loaders.at(None).plan.load(w.id)
    if row is None:
        raise error("INTERNAL", "the read model has not caught up with the write; read the plan again shortly")
    return PlanPayload(
        plan=Plan.from_row(row), position=await _position(info, w), version=w.version, replayed=w.replayed
    )


async def _measure_payload(info: Info, w: Written) -> MeasurePayload:
    # One row, read once: straight from the pool rather than through a DataLoader's batch task.
    rows = await read.measures_by_id(info.context.services.pool, [w.id])
    row = rows[0] if rows else None
    if row is None:
        raise error("INTERNAL", "the read model has not caught up with the write; read the measure again shortly")
    return MeasurePayload(
        measure=Measure.from_row(row),
        position=await _position(info, w),
        version=w.version,
        replayed=w.replayed,
    )


def _amount(i: Any) -> Amount:
    return parse_amount(i.value, i.numerator, i.denominator)


def _definition(i: DefineMeasureInput | RedefineMeasureInput) -> Definition:
    return parse_definition(
        title=i.title,
        description=i.description,
        direction=i.direction,
        basis=i.basis,
        tolerance=i.tolerance,
        unit=i.unit,
        components=[(c.key, c.label) for c in i.components],
    )


async def _on_measure(
    info: Info, i: Any, command: Callable[[UUID], commands.MeasureCommand], action: Action = Action.EDIT
) -> MeasurePayload:
    """The shape of every measure mutation: who, which measure, may they, the command, the state after it."""
    ctx = info.context
    req = ctx.request_for(i.expected_version, i.idempotency_key)
    measure_id = parse_id(i.measure_id, "measureId")
    ctx.require(action, await ctx.measure_target(measure_id))
    return await _measure_payload(info, await ctx.write(await ctx.parse(lambda: command(measure_id)), req))


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Start a partnership's plan for a reporting year.")
    async def create_plan(self, info: Info, input: CreatePlanInput) -> PlanPayload:
        ctx, i = info.context, input
        req = ctx.request_for(None, i.idempotency_key)
        ctx.require(Action.EDIT, Target(i.partnership))
        command = commands.CreatePlan(
            partnership=i.partnership,
            title=i.title,
            year=i.year,
            period_start=i.period_start,
            period_end=i.period_end,
            discrepancy_threshold=i.discrepancy_threshold,
        )
        return await _plan_payload(info, await ctx.write(command, req))

    @strawberry.mutation(description="Add a numbered theme to a plan.")
    async def add_theme(self, info: Info, input: AddThemeInput) -> PlanPayload:
        ctx, i = info.context, input
        req = ctx.request_for(i.expected_version, i.idempotency_key)
        plan_id = parse_id(i.plan_id, "planId")
        ctx.require(Action.EDIT, await ctx.plan_target(plan_id))
        return await _plan_payload(info, await ctx.write(commands.AddTheme(plan_id, code=i.code, title=i.title), req))

    @strawberry.mutation(description="Define a measure in one of a plan's themes.")
    async def define_measure(self, info: Info, input: DefineMeasureInput) -> MeasurePayload:
        ctx, i = info.context, input
        req = ctx.request_for(i.expected_version, i.idempotency_key)
        plan_id = parse_id(i.plan_id, "planId")
        plan = await ctx.plan_target(plan_id)
        ctx.require(Action.EDIT, replace(plan, theme_code=i.theme_code, measure_number=i.number) if plan else None)
        definition = await ctx.parse(lambda: _definition(i))
        command = commands.DefineMeasure(plan_id, theme_code=i.theme_code, number=i.number, definition=definition)
        return await _measure_payload(info, await ctx.write(command, req))

    @strawberry.mutation(description="Replace a measure's definition, saying why; the old one stays in history.")
    async def redefine_measure(self, info: Info, input: RedefineMeasureInput) -> MeasurePayload:
        i = input
        return await _on_measure(info, i, lambda mid: commands.RedefineMeasure(mid, _definition(i), reason=i.reason))

    @strawberry.mutation(description="Record a component's first baseline.")
    async def set_baseline(self, info: Info, input: SetBaselineInput) -> MeasurePayload:
        i = input
        return await _on_measure(
            info,
            i,
            lambda mid: commands.SetBaseline(
                mid, i.component, _amount(i), period=i.period, profile=_profile(i.profile), note=i.note
            ),
        )

    @strawberry.mutation(description="Supersede a component's baseline, saying why.")
    async def reset_baseline(self, info: Info, input: ResetBaselineInput) -> MeasurePayload:
        i = input
        return await _on_measure(
            info,
            i,
            lambda mid: commands.ResetBaseline(
                mid,
                i.component,
                _amount(i),
                reason=i.reason,
                period=i.period,
                profile=_profile(i.profile),
                note=i.note,
            ),
        )

    @strawberry.mutation(description="Report a component's figure for a quarter.")
    async def submit_figure(self, info: Info, input: SubmitFigureInput) -> MeasurePayload:
        i = input
        return await _on_measure(
            info,
            i,
            lambda mid: commands.SubmitFigure(
                mid, i.component, i.quarter, _amount(i), reported_change=i.reported_change, commentary=i.commentary
            ),
            Action.SUBMIT,
        )

    @strawberry.mutation(description="Correct a submitted figure, saying why.")
    async def revise_figure(self, info: Info, input: ReviseFigureInput) -> MeasurePayload:
        i = input
        return await _on_measure(
            info,
            i,
            lambda mid: commands.ReviseFigure(
                mid,
                i.component,
                i.quarter,
                _amount(i),
                reason=i.reason,
                reported_change=i.reported_change,
                commentary=i.commentary,
            ),
            Action.SUBMIT,
        )

    @strawberry.mutation(description="Say a quarter's figure could not be had, and why.")
    async def mark_figure_unavailable(self, info: Info, input: MarkFigureUnavailableInput) -> MeasurePayload:
        i = input
        return await _on_measure(
            info,
            i,
            lambda mid: commands.MarkFigureUnavailable(mid, i.component, i.quarter, reason=i.reason),
            Action.SUBMIT,
        )

    @strawberry.mutation(description="Replace the officer's narrative for a quarter.")
    async def update_commentary(self, info: Info, input: UpdateCommentaryInput) -> MeasurePayload:
        i = input
        return await _on_measure(info, i, lambda mid: commands.UpdateCommentary(mid, i.quarter, i.text), Action.SUBMIT)

    @strawberry.mutation(description="Set a quarter's status over the computed one, saying why.")
    async def override_status(self, info: Info, input: OverrideStatusInput) -> MeasurePayload:
        i = input
        return await _on_measure(
            info, i, lambda mid: commands.OverrideStatus(mid, i.quarter, i.status, reason=i.reason)
        )

    @strawberry.mutation(description="Return a quarter to its computed status, saying why.")
    async def clear_status_override(self, info: Info, input: ClearStatusOverrideInput) -> MeasurePayload:
        i = input
        return await _on_measure(info, i, lambda mid: commands.ClearStatusOverride(mid, i.quarter, reason=i.reason))


def _profile(profile: list[Decimal] | None) -> tuple[Decimal, ...] | None:
    return tuple(profile) if profile else None
