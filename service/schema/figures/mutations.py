"""Mutations of a measure's quarterly reporting: baselines, figures, commentary and status overrides.

Each records one event on one measure and returns the measure as it is after it (`on_measure`).
"""

from __future__ import annotations

from decimal import Decimal
from enum import Enum
from typing import Any

import strawberry
from strawberry.types import Info

from domain import commands
from domain.values import Amount, parse_amount
from service.auth.policy import Action
from service.schema.descriptions import (
    BASELINE_NOTE,
    BASELINE_PERIOD,
    BASELINE_PROFILE,
    DENOMINATOR,
    FIGURE_COMMENTARY,
    NUMERATOR,
    REPORTED_CHANGE,
    VALUE,
)
from service.schema.enums import Quarter, Status
from service.schema.measures.mutations import MeasurePayload, on_measure
from service.schema.write_inputs import ComponentWrite, MeasureWrite, MutationInput, write_input


@write_input(description="A component's first baseline (then resetBaseline). Needs the editor role.")
class SetBaselineInput(ComponentWrite):
    value: Decimal | None = strawberry.field(default=None, description=VALUE)
    numerator: Decimal | None = strawberry.field(default=None, description=NUMERATOR)
    denominator: Decimal | None = strawberry.field(default=None, description=DENOMINATOR)
    period: str | None = strawberry.field(default=None, description=BASELINE_PERIOD)
    profile: list[Decimal] | None = strawberry.field(default=None, description=BASELINE_PROFILE)
    note: str | None = strawberry.field(default=None, description=BASELINE_NOTE)


@strawberry.input(
    description="A component's new baseline in place of its current one, with the reason; every quarter is "
    "judged again. Needs the editor role."
)
class ResetBaselineInput(SetBaselineInput):
    reason: str = strawberry.field(description="Why the baseline is reset; required, kept in the audit trail.")


@write_input(
    description="A component's figure for a quarter, reported once (then reviseFigure). Needs the submitter"
    " role; refused with LOCKED while the quarter's return is submitted or approved."
)
class SubmitFigureInput(ComponentWrite):
    quarter: Quarter = strawberry.field(
        description="The quarter the figure reports: year to date for YTD_PRO_RATA, twelve months to its end "
        "for ROLLING_12_MONTHS."
    )
    value: Decimal | None = strawberry.field(default=None, description=VALUE)
    numerator: Decimal | None = strawberry.field(default=None, description=NUMERATOR)
    denominator: Decimal | None = strawberry.field(default=None, description=DENOMINATOR)
    reported_change: Decimal | None = strawberry.field(default=None, description=REPORTED_CHANGE)
    commentary: str | None = strawberry.field(default=None, description=FIGURE_COMMENTARY)


@strawberry.enum(description="A field of a figure that `reviseFigure` can remove, by naming it in `clear`.")
class FigureField(Enum):
    VALUE = strawberry.enum_value("VALUE", description="The value: the count, or the rate as stated.")
    NUMERATOR = strawberry.enum_value("NUMERATOR", description="A rate's numerator (clear DENOMINATOR with it).")
    DENOMINATOR = strawberry.enum_value("DENOMINATOR", description="A rate's denominator (clear NUMERATOR with it).")
    REPORTED_CHANGE = strawberry.enum_value("REPORTED_CHANGE", description="The change the report states.")
    COMMENTARY = strawberry.enum_value("COMMENTARY", description="The figure's own commentary.")


KEEP = "Left out or null: kept as recorded."


@write_input(
    description="A correction of a recorded figure. Only what is given changes: a field left out, or sent as "
    "null, keeps its recorded value, so a form may send just the fields the officer edited. To remove a field, "
    "name it in `clear`. A revision that would leave the figure exactly as it is is refused (VALIDATION, "
    "field `input`) and records nothing."
)
class ReviseFigureInput(ComponentWrite):
    quarter: Quarter = strawberry.field(description="The quarter whose figure is revised.")
    reason: str = strawberry.field(description="Why the figure is revised; required, kept in the audit trail.")
    value: Decimal | None = strawberry.field(
        default=None, description=f"The new value: a count, or a rate in percent as stated. {KEEP}"
    )
    numerator: Decimal | None = strawberry.field(
        default=None, description=f"A rate's new numerator, at most its denominator. {KEEP}"
    )
    denominator: Decimal | None = strawberry.field(
        default=None, description=f"A rate's new denominator, greater than zero. {KEEP}"
    )
    reported_change: Decimal | None = strawberry.field(
        default=None, description=f"The change the report states, in percent or points. {KEEP}"
    )
    commentary: str | None = strawberry.field(
        default=None, description=f"The figure's new commentary; not blank (clear it instead). {KEEP}"
    )
    clear: list[FigureField] | None = strawberry.field(
        default=None,
        description="The fields to remove, e.g. [REPORTED_CHANGE]. A field may not be both given and cleared, "
        "and the figure keeps a value or a numerator and a denominator (markFigureUnavailable says it could "
        "not be had).",
    )


@write_input(
    description="Says a quarter's figure could not be had, and why; the quarter is then NO_DATA for that "
    "component. Needs the submitter role."
)
class MarkFigureUnavailableInput(ComponentWrite):
    quarter: Quarter = strawberry.field(description="The quarter whose figure could not be had.")
    reason: str = strawberry.field(description="Why, e.g. `system migration`; required.")


@write_input(
    description="The officer's narrative for a measure's quarter, replacing the last. Needs the submitter role."
)
class UpdateCommentaryInput(MeasureWrite):
    quarter: Quarter = strawberry.field(description="The quarter it is about.")
    text: str | None = strawberry.field(description="The new narrative; null removes it.")


@write_input(
    description="A status for a measure's quarter set by hand over the computed one, with the reason. Needs"
    " the editor role."
)
class OverrideStatusInput(MeasureWrite):
    quarter: Quarter = strawberry.field(description="The quarter whose status is overridden.")
    status: Status = strawberry.field(description="The status to show instead of the computed one.")
    reason: str = strawberry.field(description="Why; required, kept in the audit trail.")


@write_input(description="Returns a quarter to its computed status, with the reason. Needs the editor role.")
class ClearStatusOverrideInput(MeasureWrite):
    quarter: Quarter = strawberry.field(description="The quarter whose override is removed.")
    reason: str = strawberry.field(description="Why; required, kept in the audit trail.")


@strawberry.type
class FigureMutations:
    @strawberry.mutation(description="Record a component's first baseline.")
    async def set_baseline(self, info: Info, input: MutationInput[SetBaselineInput]) -> MeasurePayload:
        i = input
        return await on_measure(
            info,
            i,
            lambda mid: commands.SetBaseline(
                mid, i.component, _amount(i), period=i.period, profile=_profile(i.profile), note=i.note
            ),
        )

    @strawberry.mutation(description="Supersede a component's baseline, saying why.")
    async def reset_baseline(self, info: Info, input: MutationInput[ResetBaselineInput]) -> MeasurePayload:
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
    async def submit_figure(self, info: Info, input: MutationInput[SubmitFigureInput]) -> MeasurePayload:
        i = input
        return await on_measure(
            info,
            i,
            lambda mid: commands.SubmitFigure(
                mid, i.component, i.quarter, _amount(i), reported_change=i.reported_change, commentary=i.commentary
            ),
            Action.SUBMIT,
        )

    @strawberry.mutation(
        description="Correct a recorded figure, saying why: only the fields given change, and those named in "
        "`clear` are removed. Refused with LOCKED while the quarter's return is submitted or approved."
    )
    async def revise_figure(self, info: Info, input: MutationInput[ReviseFigureInput]) -> MeasurePayload:
        i = input
        return await on_measure(
            info,
            i,
            lambda mid: commands.ReviseFigure(
                mid,
                i.component,
                i.quarter,
                _given(i),
                reason=i.reason,
                reported_change=i.reported_change,
                commentary=i.commentary,
                clear=tuple(sorted({f.value for f in i.clear or ()})),
            ),
            Action.SUBMIT,
        )

    @strawberry.mutation(description="Say a quarter's figure could not be had, and why.")
    async def mark_figure_unavailable(
        self, info: Info, input: MutationInput[MarkFigureUnavailableInput]
    ) -> MeasurePayload:
        i = input
        return await on_measure(
            info,
            i,
            lambda mid: commands.MarkFigureUnavailable(mid, i.component, i.quarter, reason=i.reason),
            Action.SUBMIT,
        )

    @strawberry.mutation(description="Replace the officer's narrative for a quarter.")
    async def update_commentary(self, info: Info, input: MutationInput[UpdateCommentaryInput]) -> MeasurePayload:
        i = input
        return await on_measure(info, i, lambda mid: commands.UpdateCommentary(mid, i.quarter, i.text), Action.SUBMIT)

    @strawberry.mutation(description="Set a quarter's status over the computed one, saying why.")
    async def override_status(self, info: Info, input: MutationInput[OverrideStatusInput]) -> MeasurePayload:
        i = input
        return await on_measure(info, i, lambda mid: commands.OverrideStatus(mid, i.quarter, i.status, reason=i.reason))

    @strawberry.mutation(description="Return a quarter to its computed status, saying why.")
    async def clear_status_override(self, info: Info, input: MutationInput[ClearStatusOverrideInput]) -> MeasurePayload:
        i = input
        return await on_measure(info, i, lambda mid: commands.ClearStatusOverride(mid, i.quarter, reason=i.reason))


def _amount(i: Any) -> Amount:
    return parse_amount(i.value, i.numerator, i.denominator)


def _given(i: ReviseFigureInput) -> Amount | None:
    """A revision's amount as given, each part left out None (kept); None where no part is given."""
    if i.value is None and i.numerator is None and i.denominator is None:
        return None
    return Amount(i.value, i.numerator, i.denominator)


def _profile(profile: list[Decimal] | None) -> tuple[Decimal, ...] | None:
    return tuple(profile) if profile else None
