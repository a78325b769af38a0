"""Mutations of a measure's quarterly reporting: baselines, figures, commentary and status overrides.

Each records one event on one measure and returns the measure as it is after it (`on_measure`).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import strawberry
from strawberry.types import Info

from domain import commands
from domain.values import Amount, parse_amount
from service.auth.policy import Action
from service.schema.enums import Quarter, Status
from service.schema.measures.mutations import MeasurePayload, on_measure


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


@strawberry.type
class FigureMutations:
    @strawberry.mutation(description="Record a component's first baseline.")
    async def set_baseline(self, info: Info, input: SetBaselineInput) -> MeasurePayload:
        i = input
        return await on_measure(
            info,
            i,
            lambda mid: commands.SetBaseline(
                mid, i.component, _amount(i), period=i.period, profile=_profile(i.profile), note=i.note
            ),
        )

    @strawberry.mutation(description="Supersede a component's baseline, saying why.")
    async def reset_baseline(self, info: Info, input: ResetBaselineInput) -> MeasurePayload:
        i = input
        return await on_measure(
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
        return await on_measure(
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
        return await on_measure(
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
        return await on_measure(
            info,
            i,
            lambda mid: commands.MarkFigureUnavailable(mid, i.component, i.quarter, reason=i.reason),
            Action.SUBMIT,
        )

    @strawberry.mutation(description="Replace the officer's narrative for a quarter.")
    async def update_commentary(self, info: Info, input: UpdateCommentaryInput) -> MeasurePayload:
        i = input
        return await on_measure(info, i, lambda mid: commands.UpdateCommentary(mid, i.quarter, i.text), Action.SUBMIT)

    @strawberry.mutation(description="Set a quarter's status over the computed one, saying why.")
    async def override_status(self, info: Info, input: OverrideStatusInput) -> MeasurePayload:
        i = input
        return await on_measure(info, i, lambda mid: commands.OverrideStatus(mid, i.quarter, i.status, reason=i.reason))

    @strawberry.mutation(description="Return a quarter to its computed status, saying why.")
    async def clear_status_override(self, info: Info, input: ClearStatusOverrideInput) -> MeasurePayload:
        i = input
        return await on_measure(info, i, lambda mid: commands.ClearStatusOverride(mid, i.quarter, reason=i.reason))


def _amount(i: Any) -> Amount:
    return parse_amount(i.value, i.numerator, i.denominator)


def _profile(profile: list[Decimal] | None) -> tuple[Decimal, ...] | None:
    return tuple(profile) if profile else None
