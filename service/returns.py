"""Quarterly returns in: a CSV of one quarter's figures for one plan, checked whole, then recorded.

The file's columns are described, and its rows read, in `service.returns_file`.
Each row is then tried on the measure held in memory, as a plan file's figure
step is, and only when every row passes is anything recorded.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

from domain.errors import DomainError, ValidationError
from domain.ledger import Ledger, Request
from domain.measure import Measure
from domain.records import FigureRecord
from domain.values import Quarter, text
from service.plan_file.lines import Where
from service.plan_file.problems import Problem, stopped
from service.plan_file.recording import load_recorded
from service.plan_file.steps import FigureStep, amount_text
from service.returns_file import ReturnRow, ReturnsError, read_returns

__all__ = ["ReturnRow", "ReturnsError", "ReturnsReport", "import_returns", "read_returns"]

CHECKER = "returns-check"  # the actor of the in-memory measures a file is checked on


@dataclass(frozen=True)
class ReturnsReport:
    """What an import of returns recorded (or, in a dry run, would record)."""

    plan_id: UUID
    quarter: Quarter
    events_recorded: int
    skipped: int  # rows already recorded exactly as the file gives them
    commands: tuple[str, ...]
    dry_run: bool = False

    def __str__(self) -> str:
        done = f"would record {len(self.commands)}" if self.dry_run else f"recorded {self.events_recorded}"
        return f"{self.quarter.value} returns: {done} event(s), {self.skipped} row(s) already recorded"


@dataclass(frozen=True)
class _Write:
    row: ReturnRow
    measure_id: UUID
    step: FigureStep  # a submission, a revision or an unavailable mark, as a plan file's figures are

    def line(self) -> str:
        row = self.row
        return f"{self.step.name} {row.measure} {row.component} {self.step.quarter.value} {row.figure_text()}"


def import_returns(
    ledger: Ledger,
    plan_id: UUID,
    quarter: Quarter | str,
    path: str | Path,
    actor: str,
    dry_run: bool = False,
) -> ReturnsReport:
    """Check every row of a returns CSV, then record its figures for `quarter`.

    Any problem refuses the whole file (ReturnsError lists them all, each naming
    its line and column) and nothing is written. A figure already recorded the
    same is skipped; one recorded differently is revised only where the row
    gives a `reason`.
    """
    path = Path(path)
    name = str(path)
    q = _quarter(quarter, name)
    try:
        ledger.get_plan(plan_id)
    except DomainError as e:
        raise ReturnsError([Problem(name, "plan", str(plan_id), e.message)]) from None
    rows = read_returns(path)
    problems: list[Problem] = []
    writes = _plan_writes(ledger, plan_id, q, rows, name, problems)
    if problems:
        raise ReturnsError(problems)
    skipped = len(rows) - len(writes)
    lines = tuple(w.line() for w in writes)
    if dry_run:
        return ReturnsReport(plan_id, q, 0, skipped, lines, dry_run=True)
    req = Request(actor=actor)
    for done, write in enumerate(writes):
        try:
            ledger.handle(write.step.command(write.measure_id), req)
        except DomainError as e:
            message = stopped(done, len(writes), write.line(), e.message)
            raise ReturnsError([Problem(f"{name}:{write.row.line}", e.field, e.value, message)]) from e
    return ReturnsReport(plan_id, q, len(writes), skipped, lines)


def _quarter(quarter: Quarter | str, name: str) -> Quarter:
    try:
        return Quarter.parse(quarter)
    except DomainError as e:
        raise ReturnsError([Problem(name, "quarter", quarter, e.message)]) from None


def _plan_writes(
    ledger: Ledger, plan_id: UUID, quarter: Quarter, rows: list[ReturnRow], name: str, problems: list[Problem]
) -> list[_Write]:
    """What each row needs recorded, checked by applying it to the measure held in memory."""
    measures: dict[str, Measure | None] = {}
    writes: list[_Write] = []
    for row in rows:
        where = f"{name}:{row.line}"
        if row.measure not in measures:
            # A copy: the rows are tried on it, and it is never saved.
            found = load_recorded(ledger, Measure.create_id(plan_id, row.measure), Measure)
            measures[row.measure] = copy.deepcopy(found)
        measure = measures[row.measure]
        if measure is None:
            problems.append(Problem(where, "measure", row.measure, f"the plan has no measure {row.measure}"))
            continue
        try:
            command = _command(measure, quarter, row)
            if command is not None:
                step = _step(quarter, row, command, where)
                step.apply(measure, CHECKER)
                writes.append(_Write(row, measure.id, step))
        except DomainError as e:
            problems.append(Problem(where, e.field, e.value, e.message))
    return writes


def _command(measure: Measure, quarter: Quarter, row: ReturnRow) -> str | None:
    """The command a row needs, or None where the ledger already has exactly this figure."""
    recorded = measure.figures.get((row.component, quarter))
    if recorded is None:
        return "markFigureUnavailable" if row.amount is None else "submitFigure"
    if _same(recorded, row):
        return None
    if row.amount is None:
        if recorded.available:
            raise ValidationError(
                "unavailable_reason",
                f"{row.measure} {row.component} {quarter.value} already has the figure"
                f" {amount_text(recorded.amount)}; a return cannot withdraw it",
                row.unavailable,
            )
        return "markFigureUnavailable"
    if not recorded.available:
        # The figure arriving after an unavailable mark is a submission (or a revision, given a reason).
        return "submitFigure" if row.reason is None else "reviseFigure"
    if row.reason is None:
        raise ValidationError(
            "value",
            f"{row.measure} {row.component} {quarter.value} is already recorded as {_recorded_text(recorded)};"
            f" this row says {_row_text(row)}: give a reason in a reason column to record a revision",
            row.figure_text(),
        )
    return "reviseFigure"


def _same(recorded: FigureRecord, row: ReturnRow) -> bool:
    """The same figure; a blank change or commentary in the row says nothing about the recorded one."""
    if row.amount is None:
        return not recorded.available and recorded.unavailable_reason == text(row.unavailable, "unavailable_reason")
    return (
        recorded.amount == row.amount
        and (row.reported_change is None or row.reported_change == recorded.reported_change)
        and (row.commentary is None or text(row.commentary, "commentary") == recorded.commentary)
    )


def _recorded_text(record: FigureRecord) -> str:
    change = "" if record.reported_change is None else f", reported change {record.reported_change}"
    return f"{amount_text(record.amount)}{change}"


def _row_text(row: ReturnRow) -> str:
    change = "" if row.reported_change is None else f", reported change {row.reported_change}"
    return f"{row.figure_text()}{change}"


def _step(quarter: Quarter, row: ReturnRow, command: str, where: str) -> FigureStep:
    """The row as a figure step: a reason makes a revision only where a figure is recorded already."""
    reason = row.reason if command == "reviseFigure" else None
    return FigureStep(
        Where(where, ""),
        row.component,
        quarter,
        0,  # its place in the figure's history, which only a plan file's checks use
        row.amount,
        row.reported_change,
        row.commentary,
        reason,
        row.unavailable,
        replaces=False,
    )
