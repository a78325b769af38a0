"""The reporting cycle in a plan file: owners and returns of a measure, collections and publications of a plan.

Each entry of the cycle may name the principal it is recorded as (`by`): a plan
file is the partnership's record, and its approvals must name someone other than
the submitter, as the ledger requires. Without `by`, the import's actor is used.
Where each entry falls among the plan's data is `phase` (see `order_key`): a
quarter's returns and publications come after that quarter's figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

import yaml

from domain import commands
from domain.commands import MeasureCommand, PlanCommand
from domain.measure import Measure
from domain.publishing import PublicationFacts
from domain.returns import ReturnState
from domain.values import MAX_LABEL, Quarter, required_text
from service.plan_file.lines import Reader, Scalar, Where, stripped
from service.plan_file.steps import CommentaryStep, FigureStep, Redefine, Step

# A return entry's action, the command it records and the state it leaves.
ACTIONS: dict[str, ReturnState] = {
    "submit": ReturnState.SUBMITTED,
    "approve": ReturnState.APPROVED,
    "send_back": ReturnState.SENT_BACK,
    "reopen": ReturnState.REOPENED,
}
ACTION_OF = {state: action for action, state in ACTIONS.items()}
NEEDS_REASON = ("send_back", "reopen")


@dataclass(frozen=True)
class OwnerStep(Step):
    """The measure's owner, or (with a reason) a change of owner."""

    where: Where
    position: int
    principal: str
    agency: str
    reason: Scalar
    by: Scalar
    fields = ("principal", "agency", "reason")
    hint = "add the change of owner to the file instead"

    @property
    def family(self) -> tuple[object, ...]:
        return ("owner",)

    @property
    def index(self) -> int:
        return self.position

    def command(self, measure_id: object) -> MeasureCommand:
        return commands.AssignOwner(measure_id, self.principal, self.agency, reason=self.reason)  # type: ignore[arg-type]

    def subject(self, number: str) -> str:
        return f"{number} owner {self.position + 1}"

    def detail(self) -> str:
        return f"{self.principal} ({self.agency})"

    def entry(self, measure: Measure) -> tuple[object, ...] | None:
        owner = self.held(measure)
        return None if owner is None else (owner.principal, owner.agency, owner.stamp.reason)

    def series(self, measure: Measure) -> Sequence[Any]:
        return measure.owners

    def actor(self, default: str) -> str:
        return self.by or default


@dataclass(frozen=True)
class ReturnStep(Step):
    """One action on a quarter's return: submitted, approved, sent back or reopened, by whom."""

    where: Where
    quarter: Quarter
    position: int
    action: str
    reason: Scalar
    by: Scalar
    fields = ("state", "reason")
    hint = "add the later actions to the file instead"

    @property
    def family(self) -> tuple[object, ...]:
        return ("return", self.quarter)

    @property
    def index(self) -> int:
        return self.position

    def command(self, measure_id: object) -> MeasureCommand:
        mid, q = measure_id, self.quarter
        if self.action == "submit":
            return commands.SubmitReturn(mid, q)  # type: ignore[arg-type]
        if self.action == "approve":
            return commands.ApproveReturn(mid, q)  # type: ignore[arg-type]
        if self.action == "send_back":
            return commands.SendBackReturn(mid, q, reason=self.reason)  # type: ignore[arg-type]
        return commands.ReopenReturn(mid, q, reason=self.reason)  # type: ignore[arg-type]

    def subject(self, number: str) -> str:
        return f"{number} {self.quarter.value} return action {self.position + 1}"

    def detail(self) -> str:
        return self.quarter.value

    def entry(self, measure: Measure) -> tuple[object, ...] | None:
        record = self.held(measure)
        return None if record is None else (record.state, record.stamp.reason)

    def series(self, measure: Measure) -> Sequence[Any]:
        return measure.return_history.get(self.quarter, [])

    def actor(self, default: str) -> str:
        return self.by or default


@dataclass(frozen=True)
class DueDate:
    due_on: date
    reason: Scalar
    by: Scalar
    where: Where


@dataclass(frozen=True)
class PublicationSpec:
    quarter: Quarter
    position: int  # its place among the quarter's publications
    title: str
    presented_on: date
    forced: bool
    reason: Scalar
    by: Scalar
    after_quarter: Quarter  # recorded after this quarter's data
    where: Where

    def command(self, plan_id: UUID, facts: PublicationFacts) -> commands.PublishQuarter:
        """The command that records this publication, decided on `facts`."""
        return commands.PublishQuarter(
            plan_id, self.quarter, self.title, self.presented_on, facts, force=self.forced, reason=self.reason
        )


@dataclass(frozen=True)
class QuarterCycle:
    """A quarter of the plan's cycle: its collection's due dates (the first opens it) and its publications."""

    quarter: Quarter
    due_dates: tuple[DueDate, ...]
    publications: tuple[PublicationSpec, ...]

    def due_date_command(self, plan_id: UUID, i: int) -> PlanCommand:
        """The command that records the `i`th due date: the first opens the collection, a later one changes it."""
        due = self.due_dates[i]
        if i == 0:
            return commands.OpenCollection(plan_id, self.quarter, due.due_on)
        return commands.ChangeDueDate(plan_id, self.quarter, due.due_on, reason=due.reason)


def read_owners(r: Reader, node: yaml.Node | None, path: str) -> list[Step]:
    steps: list[Step] = []
    for i, entry in enumerate(r.sequence(node, path)):
        epath = f"{path}[{i}]"
        fields = r.mapping(entry, epath, ("principal", "agency"), ("reason", "by"))
        if fields is None:
            continue
        principal, agency = (
            r.check(entry, epath, required_text, r.scalar(fields.get(key), f"{epath}.{key}"), key, limit=MAX_LABEL)
            for key in ("principal", "agency")
        )
        reason, by = r.scalar(fields.get("reason"), f"{epath}.reason"), r.scalar(fields.get("by"), f"{epath}.by")
        if principal is not None and agency is not None:
            steps.append(OwnerStep(r.where(entry, epath), len(steps), principal, agency, reason, by))
    return steps


def read_returns(r: Reader, node: yaml.Node | None, path: str) -> list[Step]:
    steps: list[Step] = []
    for quarter, qnode, qpath in r.quarters(node, path):
        for i, entry in enumerate(r.sequence(qnode, qpath)):
            epath = f"{qpath}[{i}]"
            fields = r.mapping(entry, epath, ("action",), ("by", "reason"))
            if fields is None:
                continue
            action = stripped(r.scalar(fields.get("action"), f"{epath}.action"))
            reason = r.scalar(fields.get("reason"), f"{epath}.reason")
            if action not in ACTIONS:
                r.problem(
                    fields.get("action", entry), f"{epath}.action", action, f"must be one of {', '.join(ACTIONS)}"
                )
                continue
            if action in NEEDS_REASON and not stripped(reason):
                r.problem(entry, f"{epath}.reason", None, f"a return is {action.replace('_', ' ')} with a reason")
                continue
            by = r.scalar(fields.get("by"), f"{epath}.by")
            position = sum(1 for s in steps if isinstance(s, ReturnStep) and s.quarter is quarter)
            steps.append(ReturnStep(r.where(entry, epath), quarter, position, action, reason, by))
    return steps


def read_cycle(r: Reader, node: yaml.Node | None, path: str) -> list[QuarterCycle]:
    """The plan's `cycle`: per quarter, `due_on` (and its `due_date_changes`) and `publications`."""
    found: list[QuarterCycle] = []
    for quarter, qnode, qpath in r.quarters(node, path):
        fields = r.mapping(qnode, qpath, (), ("due_on", "due_date_changes", "publications"))
        if fields is None:
            continue
        dates: list[DueDate] = []
        if "due_on" in fields:
            due = r.date(fields["due_on"], f"{qpath}.due_on")
            if due is not None:
                dates.append(DueDate(due, None, None, r.where(fields["due_on"], f"{qpath}.due_on")))
        if "due_date_changes" in fields and "due_on" not in fields:
            r.problem(qnode, f"{qpath}.due_on", None, "is required before due_date_changes: the date they change")
        for i, entry in enumerate(r.sequence(fields.get("due_date_changes"), f"{qpath}.due_date_changes")):
            epath = f"{qpath}.due_date_changes[{i}]"
            efields = r.mapping(entry, epath, ("due_on", "reason"), ("by",))
            if efields is None:
                continue
            due = r.date(efields.get("due_on"), f"{epath}.due_on")
            reason, by = r.scalar(efields.get("reason"), f"{epath}.reason"), r.scalar(efields.get("by"), f"{epath}.by")
            if due is not None:
                dates.append(DueDate(due, reason, by, r.where(entry, epath)))
        publications = [
            p
            for i, entry in enumerate(r.sequence(fields.get("publications"), f"{qpath}.publications"))
            if (p := _publication(r, entry, f"{qpath}.publications[{i}]", quarter, i)) is not None
        ]
        found.append(QuarterCycle(quarter, tuple(dates), tuple(publications)))
    return found


def _publication(r: Reader, node: yaml.Node, path: str, quarter: Quarter, index: int) -> PublicationSpec | None:
    fields = r.mapping(node, path, ("title", "presented_on"), ("forced", "reason", "by", "after_quarter"))
    if fields is None:
        return None
    title = r.check(node, path, required_text, r.scalar(fields.get("title"), f"{path}.title"), "title", limit=MAX_LABEL)
    presented_on = r.date(fields.get("presented_on"), f"{path}.presented_on")
    forced = stripped(r.scalar(fields.get("forced"), f"{path}.forced")).lower() in ("true", "yes")
    reason = r.scalar(fields.get("reason"), f"{path}.reason")
    if forced and not stripped(reason):
        r.problem(node, f"{path}.reason", None, "a publication forced with returns outstanding needs its reason")
        return None
    after = quarter
    if "after_quarter" in fields:
        raw = r.scalar(fields["after_quarter"], f"{path}.after_quarter")
        after = (
            r.check(fields["after_quarter"], f"{path}.after_quarter", Quarter.parse, raw, "after_quarter") or quarter
        )
        if after.number < quarter.number:
            r.problem(fields["after_quarter"], f"{path}.after_quarter", raw, f"cannot come before {quarter.value}")
    if title is None or presented_on is None:
        return None
    by = r.scalar(fields.get("by"), f"{path}.by")
    return PublicationSpec(quarter, index, title, presented_on, forced, reason, by, after, r.where(node, path))


# -- where each thing falls ------------------------------------------------------------------

# Within a quarter's phase, a measure's figures come first, then its commentary, its published status, its returns.
FIGURES, COMMENTARY, STATUS, RETURNS = range(4)


def quarter_phase(quarter: Quarter) -> int:
    """The phase of a quarter's data; phase 2n falls between quarter n's data and quarter n+1's (0: before Q1)."""
    return 2 * quarter.number - 1


def in_recording_order(steps: list[Step]) -> list[Step]:
    """A measure's steps in the order they are recorded: phase by phase, a quarter's returns after its data.

    `steps` come in the file's schedule: owners, then baselines and figures quarter by quarter with the
    redefinitions between them, then commentary and returns. Baselines and owners keep the phase of the
    step before them.
    """
    keyed: list[tuple[tuple[int, int, int], Step]] = []
    running = 0
    for i, step in enumerate(steps):
        if isinstance(step, FigureStep | Redefine | CommentaryStep | ReturnStep):
            phase, rank = _explicit(step)
            if isinstance(step, FigureStep | Redefine):
                running = phase
        else:
            phase, rank = running, FIGURES
        keyed.append(((phase, rank, i), step))
    return [step for _, step in sorted(keyed, key=lambda item: item[0])]


def phases(steps: list[Step]) -> list[tuple[int, int]]:
    """The phase of each of a measure's steps in recording order, and its rank within the phase.

    Baselines and owners fall where their measure's order puts them: with the definition before them.
    """
    found: list[tuple[int, int]] = []
    running = (0, FIGURES)
    for step in steps:
        if isinstance(step, FigureStep | Redefine | CommentaryStep | ReturnStep):
            running = _explicit(step)
        found.append(running)
    return found


def _explicit(step: FigureStep | Redefine | CommentaryStep | ReturnStep) -> tuple[int, int]:
    if isinstance(step, FigureStep):
        return quarter_phase(step.quarter), FIGURES
    if isinstance(step, Redefine):
        return 2 * step.position, FIGURES
    if isinstance(step, CommentaryStep):
        return quarter_phase(step.quarter), COMMENTARY
    return quarter_phase(step.quarter), RETURNS
