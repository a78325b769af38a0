"""`import_plan`: record what a checked plan file says and the ledger does not have yet, in file order.

What is recorded already must agree with the file; a second import of the
same file records nothing (see `reconciling` for how a disagreement is told).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from domain.assessed import assess_measure
from domain.commands import (
    AddTheme,
    Command,
    CreatePlan,
    DefineMeasure,
    OverrideStatus,
)
from domain.errors import DomainError
from domain.ledger import Ledger, Request
from domain.measure import Measure
from domain.plan import Plan
from domain.values import Status
from service.plan_file.cycle import STATUS, phases, quarter_phase
from service.plan_file.cycle_check import facts
from service.plan_file.lines import Where
from service.plan_file.parsed import MeasureSpec, PlanFile, StatusSpec
from service.plan_file.problems import PlanFileError, Problem, stopped
from service.plan_file.reconciling import compare_definition, compare_lengths, difference

A = TypeVar("A", Plan, Measure)
# The order writes are recorded in: (phase, group, ...). Phases are quarter by quarter (plan_file/cycle.py);
# within one, the plan's collections, then each measure's data and returns, then the quarter's publications.
FIRST = (-1, 0, 0, 0, 0)  # the plan and its themes
COLLECTIONS, MEASURES, PUBLICATIONS = range(3)


@dataclass(frozen=True)
class ImportReport:
    """What an import recorded (or, in a dry run, would record)."""

    plan_id: UUID
    events_recorded: int
    commands: tuple[str, ...]
    dry_run: bool = False

    def __str__(self) -> str:
        if self.dry_run:
            return f"dry run: {len(self.commands)} event(s) would be recorded for plan {self.plan_id}"
        return f"{self.events_recorded} event(s) recorded for plan {self.plan_id}"


@dataclass(frozen=True)
class _Write:
    """A command to record, with its line in a dry run, where the file says it, and where it falls.

    `order` sorts the writes into the order they are recorded (see `_order`); `actor` names the
    principal the file gives for it (None: the import's actor).
    """

    line: str
    where: Where
    command: Command
    order: tuple[int, ...] = ()
    actor: str | None = None


def import_plan(
    ledger: Ledger,
    plan_file: PlanFile,
    actor: str,
    dry_run: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """Record what the file says and the ledger does not have yet, in file order.

    What is recorded already must agree with the file (a figure's recorded
    history must be the start of the file's); if anything disagrees, nothing is
    written and PlanFileError lists every disagreement. A dry run returns the
    commands that would be recorded, one line each, and writes nothing.
    `progress(done, total)` is called as commands are recorded.
    """
    problems: list[Problem] = []
    writes = _plan_writes(ledger, plan_file, problems)
    measures: list[Measure] = []
    for index, spec in enumerate(plan_file.measures):
        found, measure = _measure_writes(ledger, plan_file.plan_id, spec, actor, problems, index)
        writes += found
        measures.append(measure)
    writes += cycle_writes(ledger, plan_file, measures, problems)
    if problems:
        raise PlanFileError(problems)
    # Quarter by quarter, across the plan's measures: what a publication shows is what its quarter had.
    writes.sort(key=lambda w: w.order)
    lines = tuple(w.line for w in writes)
    if dry_run:
        return ImportReport(plan_file.plan_id, 0, lines, dry_run=True)
    for done, write in enumerate(writes):
        if progress is not None:
            progress(done, len(writes))
        try:
            ledger.handle(write.command, Request(actor=write.actor or actor))
        except DomainError as e:
            message = stopped(done, len(writes), write.line, e.message, unit="events")
            raise PlanFileError([Problem(write.where.location, write.where.path, e.value, message)]) from e
    if progress is not None:
        progress(len(writes), len(writes))
    return ImportReport(plan_file.plan_id, len(writes), lines)


def load_recorded(ledger: Ledger, aggregate_id: UUID, kind: type[A]) -> A | None:
    """The plan or measure the ledger holds under `aggregate_id`, or None if it holds none of that kind."""
    try:
        found: object = ledger.repository.get(aggregate_id)
    except AggregateNotFoundError:
        return None
    return found if isinstance(found, kind) else None


def _plan_writes(ledger: Ledger, plan_file: PlanFile, problems: list[Problem]) -> list[_Write]:
    expected, where = plan_file.plan, plan_file.where
    recorded = load_recorded(ledger, plan_file.plan_id, Plan)
    writes: list[_Write] = []
    # What the file says of the plan, by the names CreatePlan takes and the recorded Plan holds.
    stated = {f.name: getattr(expected, f.name) for f in fields(CreatePlan)}
    if recorded is None:
        line = f"createPlan {expected.partnership} / {expected.title} ({expected.year})"
        writes.append(_Write(line, where, CreatePlan(**stated), FIRST))
    else:
        for name, mine in stated.items():
            theirs = getattr(recorded, name)
            if mine != theirs:
                message = f"the plan is already recorded with {name} {theirs}; the file says {mine}"
                problems.append(Problem(where.location, f"plan.{name}", mine, message))
    recorded_titles = {t.code: t.title for t in recorded.themes} if recorded else {}
    for theme in plan_file.themes:
        if theme.code not in recorded_titles:
            add = AddTheme(plan_file.plan_id, code=theme.code, title=theme.title)
            writes.append(_Write(f"addTheme {theme.code} {theme.title}", theme.where, add, FIRST))
        elif recorded_titles[theme.code] != theme.title:
            message = f"theme {theme.code} is already recorded as {recorded_titles[theme.code]!r}"
            problems.append(Problem(theme.where.location, f"{theme.where.path}.title", theme.title, message))
    return writes


def _measure_writes(
    ledger: Ledger, plan_id: UUID, spec: MeasureSpec, actor: str, problems: list[Problem], index: int
) -> tuple[list[_Write], Measure]:
    """The measure's writes the ledger lacks, and the measure as they leave it (held in memory)."""
    measure_id = spec.expected.id
    recorded = load_recorded(ledger, measure_id, Measure)
    writes: list[_Write] = []
    if recorded is None:
        actual = Measure.define(
            plan_id=plan_id,
            theme_code=spec.theme_code,
            number=spec.number,
            definition=spec.definition,
            discrepancy_threshold=spec.expected.discrepancy_threshold,
            actor=actor,
        )
        define = DefineMeasure(plan_id, theme_code=spec.theme_code, number=spec.number, definition=spec.definition)
        line = f"defineMeasure {spec.number} {spec.definition.title}"
        writes.append(_Write(line, spec.where, define, (0, MEASURES, index, -1, -1)))
    else:
        actual = copy.deepcopy(recorded)
        compare_definition(spec, recorded, problems)
    for i, (step, (phase, rank)) in enumerate(zip(spec.steps, phases(list(spec.steps)), strict=True)):
        found = step.entry(recorded) if recorded is not None else None
        if found is not None:
            wanted = step.entry(spec.expected)
            if found != wanted:
                problems.append(difference(spec.number, step, found, wanted))
            continue
        try:
            step.apply(actual, actor)
        except DomainError as e:
            problems.append(Problem(step.where.location, step.where.path, e.value, e.message))
            continue
        order = (phase, MEASURES, index, rank, i)
        writes.append(_Write(step.line(spec.number), step.where, step.command(measure_id), order, step.actor(actor)))
    if recorded is not None:
        compare_lengths(spec, recorded, problems)
    writes += _override_writes(spec, recorded, actual, problems, index)
    return writes, actual


def _override_writes(
    spec: MeasureSpec, recorded: Measure | None, actual: Measure, problems: list[Problem], index: int
) -> list[_Write]:
    """Published statuses: an override where one differs from the status computed from the figures."""
    assessed = assess_measure(actual)
    writes: list[_Write] = []
    for status in spec.statuses:
        computed = assessed.quarters[status.quarter.number - 1].computed_status
        existing = recorded.overrides.get(status.quarter) if recorded else None
        if existing is not None:
            if existing.status is not status.status:
                message = f"{spec.number} {status.quarter.value} is already overridden as {existing.status.value}"
                problems.append(Problem(status.where.location, status.where.path, status.status.value, message))
            continue
        if status.status is computed:
            continue
        writes.append(_override_write(spec, actual.id, status, computed, index))
    return writes


def _override_write(spec: MeasureSpec, measure_id: UUID, status: StatusSpec, computed: Status, index: int) -> _Write:
    override = OverrideStatus(measure_id, status.quarter, status.status, reason=status.override_reason(computed))
    line = f"overrideStatus {spec.number} {status.quarter.value} {status.status.value} (computed {computed.value})"
    # A published status is recorded with its quarter, before the quarter's returns lock it.
    return _Write(line, status.where, override, (quarter_phase(status.quarter), MEASURES, index, STATUS, 0))


def cycle_writes(ledger: Ledger, plan_file: PlanFile, measures: list[Measure], problems: list[Problem]) -> list[_Write]:
    """The plan's collections and publications the ledger lacks; what it holds must be the start of the file's."""
    plan_id = plan_file.plan_id
    recorded = load_recorded(ledger, plan_id, Plan)
    writes: list[_Write] = []
    for quarter in plan_file.cycle:
        q = quarter.quarter
        held = recorded.collections[q].dates if recorded is not None and q in recorded.collections else ()
        for i, due in enumerate(quarter.due_dates):
            if i < len(held):
                if held[i][0] != due.due_on:
                    message = f"{q.value} returns were already due {held[i][0]}: add a due date change instead"
                    problems.append(Problem(due.where.location, due.where.path, due.due_on.isoformat(), message))
                continue
            command = quarter.due_date_command(plan_id, i)
            order = (quarter_phase(q), COLLECTIONS, q.number, i, 0)
            writes.append(_Write(f"{command.name} {q.value} {due.due_on}", due.where, command, order, due.by))
        published = recorded.published(q) if recorded is not None else []
        for spec in quarter.publications:
            if spec.position < len(published):
                found = published[spec.position]
                if (found.title, found.presented_on) != (spec.title, spec.presented_on):
                    message = f"{q.value} was already published as {found.title!r}, presented {found.presented_on}"
                    problems.append(Problem(spec.where.location, spec.where.path, spec.title, message))
                continue
            publish = spec.command(plan_id, facts(measures, spec))
            order = (quarter_phase(spec.after_quarter), PUBLICATIONS, q.number, spec.position, 0)
            writes.append(_Write(f"publishQuarter {q.value} {spec.title}", spec.where, publish, order, spec.by))
        extra = len(held) - len(quarter.due_dates), len(published) - len(quarter.publications)
        if max(extra) > 0:
            message = f"the ledger holds later due dates or publications of {q.value}: add them to the file"
            problems.append(Problem(plan_file.where.location, f"cycle.{q.value}", None, message))
    return writes
