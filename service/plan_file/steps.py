"""The steps of a measure: each thing a plan file says about it, as one use case to try and to record.

A step is applied first to a measure held in memory (so the domain's own
checks see the file before the ledger does) and then recorded through the
Ledger; quarterly returns use the same figure steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID

from domain.ledger import Ledger, Request, Written
from domain.measure import Definition, Measure
from domain.values import Amount, Quarter
from service.plan_file.reading import Scalar, Where


def amount_text(amount: Amount | None) -> str:
    """An amount as a person would write it: `995`, `13/21`, or `62 (13/21)`."""
    if amount is None:
        return "unavailable"
    fraction = f"{amount.numerator}/{amount.denominator}" if amount.is_fraction else ""
    if amount.value is None:
        return fraction
    return f"{amount.value} ({fraction})" if fraction else str(amount.value)


# The Measure says `redefine`; the Ledger, serving plans too, says which aggregate.
LEDGER_VERB = {"redefine": "redefine_measure"}


def _camel(verb: str) -> str:
    head, *rest = verb.split("_")
    return head + "".join(word.title() for word in rest)


class Step:
    """One thing the file says about a measure, in the order it is recorded.

    `call` names the use case and its arguments; the Measure and the Ledger
    spell each use case with the same verb (the Ledger adds the request and the
    measure's id), so one call is tried in memory and then recorded.
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

    def call(self) -> tuple[str, tuple[object, ...], dict[str, object]]:
        """The Measure's verb for this use case, with its arguments."""
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

    @property
    def command(self) -> str:
        """The API's name of the use case: `submitFigure`, `redefineMeasure`, ..."""
        verb, _, _ = self.call()
        return _camel(LEDGER_VERB.get(verb, verb))

    def line(self, number: str) -> str:
        """The step as one line of a dry run: `submitFigure 5.1 criminal-damage Q2 995`."""
        return " ".join(part for part in (self.command, number, self.detail()) if part)

    def apply(self, measure: Measure, actor: str) -> None:
        """Apply the step to a measure held in memory; a DomainError says why it cannot be."""
        verb, args, kwargs = self.call()
        getattr(measure, verb)(*args, **kwargs, actor=actor)

    def record(self, ledger: Ledger, req: Request, measure_id: UUID) -> Written:
        """Record the step in the ledger, as `req`'s actor."""
        verb, args, kwargs = self.call()
        written: Written = getattr(ledger, LEDGER_VERB.get(verb, verb))(req, measure_id, *args, **kwargs)
        return written


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

    def call(self) -> tuple[str, tuple[object, ...], dict[str, object]]:
        return "redefine", (self.definition,), {"reason": self.reason}

    def subject(self, number: str) -> str:
        return f"redefinition {self.number_in_series} of measure {number}"

    def detail(self) -> str:
        return self.definition.title

    def entry(self, measure: Measure) -> tuple[object, ...] | None:
        if self.index >= len(measure.definitions):
            return None
        definition, stamp = measure.definitions[self.index]
        return (definition, stamp.reason)


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

    def call(self) -> tuple[str, tuple[object, ...], dict[str, object]]:
        args: dict[str, object] = {"period": self.period, "profile": self.profile, "note": self.note}
        if self.reason is None:
            return "set_baseline", (self.key, self.amount), args
        return "reset_baseline", (self.key, self.amount), {**args, "reason": self.reason}

    def subject(self, number: str) -> str:
        what = "baseline" if self.position == 0 else f"baseline reset {self.position}"
        return f"{number} {self.key} {what}"

    def detail(self) -> str:
        return f"{self.key} {amount_text(self.amount)}"

    def entry(self, measure: Measure) -> tuple[object, ...] | None:
        records = measure.baselines.get(self.key, [])
        if self.index >= len(records):
            return None
        b = records[self.index]
        return (b.amount, b.period, b.profile, b.note, b.is_reset, b.stamp.reason)


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
    fields = ("amount", "reported_change", "commentary", "unavailable", "reason")
    hint = "add a revision to the file instead"

    @property
    def family(self) -> tuple[object, ...]:
        return ("figure", self.key, self.quarter)

    @property
    def index(self) -> int:
        return self.position

    def call(self) -> tuple[str, tuple[object, ...], dict[str, object]]:
        if self.amount is None:
            return "mark_figure_unavailable", (self.key, self.quarter), {"reason": self.unavailable}
        args: dict[str, object] = {"reported_change": self.reported_change, "commentary": self.commentary}
        if self.reason is None:
            return "submit_figure", (self.key, self.quarter, self.amount), args
        return "revise_figure", (self.key, self.quarter, self.amount), {**args, "reason": self.reason}

    def subject(self, number: str) -> str:
        what = "figure" if self.position == 0 else f"revision {self.position}"
        return f"{number} {self.key} {self.quarter.value} {what}"

    def detail(self) -> str:
        shown = "" if self.amount is None else f" {amount_text(self.amount)}"
        return f"{self.key} {self.quarter.value}{shown}"

    def entry(self, measure: Measure) -> tuple[object, ...] | None:
        history = measure.figure_history.get((self.key, self.quarter), [])
        if self.index >= len(history):
            return None
        f = history[self.index]
        return (f.amount, f.reported_change, f.commentary, f.unavailable_reason, f.stamp.reason)


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

    def call(self) -> tuple[str, tuple[object, ...], dict[str, object]]:
        return "update_commentary", (self.quarter, self.text), {}

    def subject(self, number: str) -> str:
        return f"{number} {self.quarter.value} commentary"

    def detail(self) -> str:
        return self.quarter.value

    def entry(self, measure: Measure) -> tuple[object, ...] | None:
        found = measure.commentary.get(self.quarter)
        return None if found is None else (found[0],)
