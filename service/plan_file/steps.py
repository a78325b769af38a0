"""The steps of a measure: each thing a plan file says about it, as one use case to try and to record.

A step is applied first to a measure held in memory (so the domain's own
checks see the file before the ledger does) and then recorded through the
Ledger; quarterly returns use the same figure steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

from domain import commands
from domain.commands import MeasureCommand
from domain.definition import Definition
from domain.ledger import change_measure
from domain.measure import Measure
from domain.revisions import FigureField
from domain.values import Amount, Quarter
from service.plan_file.lines import Scalar, Where


def amount_text(amount: Amount | None) -> str:
    """An amount as a person would write it: `995`, `13/21`, or `62 (13/21)`."""
    if amount is None:
        return "unavailable"
    fraction = f"{amount.numerator}/{amount.denominator}" if amount.is_fraction else ""
    if amount.value is None:
        return fraction
    return f"{amount.value} ({fraction})" if fraction else str(amount.value)


# A measure's id for a command built only to learn its name.
_ANY_MEASURE = UUID(int=0)


class Step:
    """One thing the file says about a measure, in the order it is recorded.

    `command` is the use case with its values: the same command is tried on a
    measure held in memory and then handled by the Ledger.
    """

    where: Where
    fields: tuple[str, ...] = ()  # what `entry` holds, for messages
    hint = ""  # what to do when the ledger holds something else

    @property
    def family(self) -> tuple[object, ...]:
        """The series the step adds to; `index` is its place in that series."""
        raise NotImplementedError

    @property
    def index(self) -> int:
        """The step's place in its series: 0 for the first, 1 for the first revision or reset, ..."""
        return 0

    def command(self, measure_id: UUID) -> MeasureCommand:
        """The command that records this step on measure `measure_id`."""
        raise NotImplementedError

    def subject(self, number: str) -> str:
        """What the step is about, for messages: `5.1 criminal-damage Q1 figure`."""
        raise NotImplementedError

    def detail(self) -> str:
        """What follows the command and the measure's number in `line`."""
        return ""

    def entry(self, measure: Measure) -> tuple[object, ...] | None:
        """What `measure` holds at this step's place, or None if nothing yet."""
        raise NotImplementedError

    def series(self, measure: Measure) -> Sequence[Any]:
        """What `measure` holds of the step's family, oldest first: `index` is a place in it."""
        raise NotImplementedError

    def held(self, measure: Measure) -> Any:
        """What `measure` holds at this step's place in its series; None where the series is shorter."""
        series = self.series(measure)
        return series[self.index] if self.index < len(series) else None

    @property
    def name(self) -> str:
        """The API's name of the use case: `submitFigure`, `redefineMeasure`, ..."""
        return self.command(_ANY_MEASURE).name

    def line(self, number: str) -> str:
        """The step as one line of a dry run: `submitFigure 5.1 criminal-damage Q2 995`."""
        return " ".join(part for part in (self.name, number, self.detail()) if part)

    def actor(self, default: str) -> str:
        """Who the step is recorded as: the import's actor, unless the file names someone."""
        return default

    def apply(self, measure: Measure, actor: str) -> None:
        """Apply the step to a measure held in memory; a DomainError says why it cannot be."""
        change_measure(measure, self.command(measure.id), self.actor(actor))


@dataclass(frozen=True)
class Redefine(Step):
    """A redefinition of the measure, recorded after the figures of `position` quarters."""

    where: Where
    position: int  # how many quarters' figures come before it
    number_in_series: int
    definition: Definition
    reason: Scalar
    fields = ("definition", "reason")
    hint = "add a redefinition to the file instead"

    @property
    def family(self) -> tuple[object, ...]:
        return ("definition",)

    @property
    def index(self) -> int:
        return self.number_in_series

    def command(self, measure_id: UUID) -> MeasureCommand:
        return commands.RedefineMeasure(measure_id, self.definition, reason=self.reason)

    def subject(self, number: str) -> str:
        return f"redefinition {self.number_in_series} of measure {number}"

    def detail(self) -> str:
        return self.definition.title

    def entry(self, measure: Measure) -> tuple[object, ...] | None:
        held = self.held(measure)
        return None if held is None else (held[0], held[1].reason)

    def series(self, measure: Measure) -> Sequence[Any]:
        return measure.definitions


@dataclass(frozen=True)
class SetBaseline(Step):
    """The first baseline of a component (no reason), or a reset (with its reason)."""

    where: Where
    key: str
    position: int
    amount: Amount
    period: Scalar
    profile: list[Scalar] | None
    note: Scalar
    reason: Scalar
    fields = ("amount", "period", "profile", "note", "is_reset", "reason")
    hint = "add a baseline reset to the file instead"

    @property
    def family(self) -> tuple[object, ...]:
        return ("baseline", self.key)

    @property
    def index(self) -> int:
        return self.position

    def command(self, measure_id: UUID) -> MeasureCommand:
        stated = {"period": self.period, "profile": self.profile, "note": self.note}
        if self.reason is None:
            return commands.SetBaseline(measure_id, self.key, self.amount, **stated)
        return commands.ResetBaseline(measure_id, self.key, self.amount, reason=self.reason, **stated)

    def subject(self, number: str) -> str:
        what = "baseline" if self.position == 0 else f"baseline reset {self.position}"
        return f"{number} {self.key} {what}"

    def detail(self) -> str:
        return f"{self.key} {amount_text(self.amount)}"

    def entry(self, measure: Measure) -> tuple[object, ...] | None:
        b = self.held(measure)
        return None if b is None else (b.amount, b.period, b.profile, b.note, b.is_reset, b.stamp.reason)

    def series(self, measure: Measure) -> Sequence[Any]:
        return measure.baselines.get(self.key, [])


@dataclass(frozen=True)
class FigureStep(Step):
    """A submission, a revision (it has a reason), or an unavailable mark (no amount)."""

    where: Where
    key: str
    quarter: Quarter
    position: int
    amount: Amount | None
    reported_change: Decimal | None
    commentary: Scalar
    reason: Scalar
    unavailable: Scalar
    # A plan file's revision states the whole figure, so what it leaves out is cleared; a returns row's keeps
    # what it leaves blank.
    replaces: bool = True
    fields = ("amount", "reported_change", "commentary", "unavailable", "reason")
    hint = "add a revision to the file instead"

    @property
    def family(self) -> tuple[object, ...]:
        return ("figure", self.key, self.quarter)

    @property
    def index(self) -> int:
        return self.position

    def command(self, measure_id: UUID) -> MeasureCommand:
        if self.amount is None:
            return commands.MarkFigureUnavailable(measure_id, self.key, self.quarter, reason=self.unavailable)
        if self.reason is None:
            return commands.SubmitFigure(
                measure_id,
                self.key,
                self.quarter,
                self.amount,
                reported_change=self.reported_change,
                commentary=self.commentary,
            )
        return commands.ReviseFigure(
            measure_id,
            self.key,
            self.quarter,
            self.amount,
            reason=self.reason,
            reported_change=self.reported_change,
            commentary=None if _blank(self.commentary) else self.commentary,
            clear=self._left_out() if self.replaces else (),
            as_recorded=self.replaces,
        )

    def _left_out(self) -> tuple[str, ...]:
        """The fields this revision leaves out, by their FigureField names: cleared, as the file states them."""
        assert self.amount is not None
        given = {
            FigureField.VALUE: self.amount.value,
            FigureField.NUMERATOR: self.amount.numerator,
            FigureField.DENOMINATOR: self.amount.denominator,
            FigureField.REPORTED_CHANGE: self.reported_change,
            FigureField.COMMENTARY: self.commentary,
        }
        return tuple(field.value for field, value in given.items() if value is None or _blank(value))

    def subject(self, number: str) -> str:
        what = "figure" if self.position == 0 else f"revision {self.position}"
        return f"{number} {self.key} {self.quarter.value} {what}"

    def detail(self) -> str:
        shown = "" if self.amount is None else f" {amount_text(self.amount)}"
        return f"{self.key} {self.quarter.value}{shown}"

    def entry(self, measure: Measure) -> tuple[object, ...] | None:
        f = self.held(measure)
        return None if f is None else (f.amount, f.reported_change, f.commentary, f.unavailable_reason, f.stamp.reason)

    def series(self, measure: Measure) -> Sequence[Any]:
        return measure.figure_history.get((self.key, self.quarter), [])


@dataclass(frozen=True)
class CommentaryStep(Step):
    """A quarter's narrative for the whole measure."""

    where: Where
    quarter: Quarter
    text: Scalar
    fields = ("text",)
    hint = "correct the file, or change the commentary through the API"

    @property
    def family(self) -> tuple[object, ...]:
        return ("commentary", self.quarter)

    def command(self, measure_id: UUID) -> MeasureCommand:
        return commands.UpdateCommentary(measure_id, self.quarter, self.text)

    def subject(self, number: str) -> str:
        return f"{number} {self.quarter.value} commentary"

    def detail(self) -> str:
        return self.quarter.value

    def entry(self, measure: Measure) -> tuple[object, ...] | None:
        found = measure.commentary.get(self.quarter)
        return None if found is None else (found[0],)


def _blank(value: object) -> bool:
    return isinstance(value, str) and not value.strip()
