"""Quarterly returns in: a CSV of one quarter's figures for one plan, checked whole, then recorded.

Columns (a header row is required; any order): `measure`, `component`,
`value`, `numerator`, `denominator`, `reported_change`, `commentary`,
`unavailable_reason`, and `reason` (which makes a changed figure a revision).
A row gives a value, or a numerator and a denominator, or an unavailable reason.
"""

from __future__ import annotations

import copy
import csv
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from domain.errors import DomainError, ValidationError
from domain.ledger import Ledger, Request
from domain.measure import FigureRecord, Measure
from domain.values import Amount, Quarter, optional_decimal, parse_amount, parse_component_key, text
from service.importer import Problem, ProblemsFound, amount_text, read_text

COLUMNS = (
    "measure",
    "component",
    "value",
    "numerator",
    "denominator",
    "reported_change",
    "commentary",
    "unavailable_reason",
    "reason",
)
NUMBER_COLUMNS = ("value", "numerator", "denominator", "reported_change")
# Thousands separators only where they cannot be read another way: 2,472 or 12,345.5
THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")


class ReturnsError(ProblemsFound):
    """A returns file that cannot be imported; nothing was recorded."""


@dataclass(frozen=True)
class ReturnRow:
    """One row, its numbers read; `line` is where it starts in the file."""

    line: int
    measure: str
    component: str
    amount: Amount | None
    reported_change: Decimal | None
    commentary: str | None
    unavailable: str | None
    reason: str | None

    def figure_text(self) -> str:
        return amount_text(self.amount) if self.amount else f"unavailable ({self.unavailable})"


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
    command: str  # submitFigure, reviseFigure or markFigureUnavailable

    def line(self, quarter: Quarter) -> str:
        return f"{self.command} {self.row.measure} {self.row.component} {quarter.value} {self.row.figure_text()}"


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
    lines = tuple(w.line(q) for w in writes)
    if dry_run:
        return ReturnsReport(plan_id, q, 0, skipped, lines, dry_run=True)
    req = Request(actor=actor)
    for done, write in enumerate(writes):
        try:
            _record(ledger, req, q, write)
        except DomainError as e:
            message = (
                f"stopped after recording {done} of {len(writes)}: {write.line(q)}: {e.message}."
                " What was recorded stays; import the file again to record the rest"
            )
            raise ReturnsError([Problem(f"{name}:{write.row.line}", e.field, e.value, message)]) from e
    return ReturnsReport(plan_id, q, len(writes), skipped, lines)


def _quarter(quarter: Quarter | str, name: str) -> Quarter:
    try:
        return Quarter.parse(quarter)
    except DomainError as e:
        raise ReturnsError([Problem(name, "quarter", quarter, e.message)]) from None


def read_returns(path: str | Path) -> list[ReturnRow]:
    """Read and check the rows of a returns CSV on their own (no ledger); ReturnsError lists every problem."""
    path = Path(path)
    name = str(path)
    lines = read_text(path, "returns file", ReturnsError).splitlines(keepends=True)
    problems: list[Problem] = []
    rows: list[ReturnRow] = []
    reader = csv.reader(lines, strict=True)
    try:
        header = [re.sub(r"[\s-]+", "_", h.strip().lower()) for h in next(reader)]
        columns = _columns(header, name, problems)
        seen: dict[tuple[str, str], int] = {}
        start = reader.line_num + 1
        for fields in reader:
            if any(f.strip() for f in fields):
                row = _row(fields, columns, len(header), f"{name}:{start}", start, problems)
                if row is not None and _unique(row, seen, name, problems):
                    rows.append(row)
            start = reader.line_num + 1
    except csv.Error as e:
        problems.append(Problem(f"{name}:{reader.line_num}", "", None, f"not readable as CSV: {e}"))
    if not problems and not rows:
        problems.append(Problem(name, "", None, "the returns file has a header but no rows"))
    if problems:
        raise ReturnsError(problems)
    return rows


def _columns(header: list[str], name: str, problems: list[Problem]) -> dict[str, int]:
    where = f"{name}:1"
    columns: dict[str, int] = {}
    for i, column in enumerate(header):
        if column not in COLUMNS:
            problems.append(Problem(where, column, None, f"is not a column of a returns file: {', '.join(COLUMNS)}"))
        elif column in columns:
            problems.append(Problem(where, column, None, "appears twice in the header"))
        columns.setdefault(column, i)
    for required in ("measure", "component"):
        if required not in columns:
            problems.append(Problem(where, required, None, "is a required column"))
    if ("numerator" in columns) != ("denominator" in columns):
        problems.append(Problem(where, "denominator", None, "numerator and denominator go together"))
    if not {"value", "numerator", "unavailable_reason"} & columns.keys():
        message = "needs a value column, numerator and denominator columns, or an unavailable_reason column"
        problems.append(Problem(where, "header", None, message))
    return columns


def _row(
    fields: list[str], columns: dict[str, int], width: int, where: str, line: int, problems: list[Problem]
) -> ReturnRow | None:
    if len(fields) > width:
        problems.append(Problem(where, "", None, f"has {len(fields)} fields; the header has {width}"))
        return None
    if not {"measure", "component"} <= columns.keys():
        return None  # already reported against the header
    before = len(problems)

    def cell(column: str) -> str:
        i = columns.get(column)
        return fields[i].strip() if i is not None and i < len(fields) else ""

    numbers = {c: _number(cell(c), where, c, problems) for c in NUMBER_COLUMNS}
    unavailable = cell("unavailable_reason")
    given = [c for c in ("value", "numerator", "denominator") if cell(c)]
    amount = None
    extras = [c for c in ("reported_change", "commentary") if cell(c)]
    if unavailable and given:
        message = f"gives both {given[0]} and unavailable_reason: a figure is either given or unavailable"
        problems.append(Problem(where, "unavailable_reason", unavailable, message))
    elif unavailable and extras:
        message = f"gives {extras[0]} for a figure marked unavailable: an unavailable mark carries only its reason"
        problems.append(Problem(where, extras[0], cell(extras[0]), message))
    elif not unavailable and len(problems) == before:  # a refused number is not also "missing"
        try:
            amount = parse_amount(numbers["value"], numbers["numerator"], numbers["denominator"], "value")
        except DomainError as e:
            problems.append(Problem(where, e.field, e.value, e.message))
    measure = cell("measure")
    try:
        component = parse_component_key(cell("component"))
    except DomainError as e:
        problems.append(Problem(where, "component", e.value, e.message))
        component = ""
    if not measure:
        problems.append(Problem(where, "measure", None, "is required"))
    if len(problems) > before:
        return None
    change = optional_decimal(numbers["reported_change"], "reported_change")
    return ReturnRow(
        line,
        measure,
        component,
        amount,
        change,
        cell("commentary") or None,
        unavailable or None,
        cell("reason") or None,
    )


def _number(raw: str, where: str, column: str, problems: list[Problem]) -> str | None:
    """A number's text with unambiguous thousands separators dropped; None when blank or refused."""
    if not raw:
        return None
    if "," in raw:
        if not THOUSANDS.match(raw):
            message = (
                f"{raw!r} is ambiguous: a comma here is not a thousands separator (like 2,472);"
                " write the number with a decimal point and no separators"
            )
            problems.append(Problem(where, column, raw, message))
            return None
        raw = raw.replace(",", "")
    try:
        optional_decimal(raw, column)
    except DomainError as e:
        problems.append(Problem(where, column, e.value, e.message))
        return None
    return raw


def _unique(row: ReturnRow, seen: dict[tuple[str, str], int], name: str, problems: list[Problem]) -> bool:
    key = (row.measure, row.component)
    if key in seen:
        message = f"measure {row.measure} component {row.component} is already given on line {seen[key]}"
        problems.append(Problem(f"{name}:{row.line}", "component", row.component, message))
        return False
    seen[key] = row.line
    return True


def _plan_writes(
    ledger: Ledger, plan_id: UUID, quarter: Quarter, rows: list[ReturnRow], name: str, problems: list[Problem]
) -> list[_Write]:
    """What each row needs recorded, checked by applying it to the measure held in memory."""
    measures: dict[str, Measure | None] = {}
    writes: list[_Write] = []
    for row in rows:
        where = f"{name}:{row.line}"
        if row.measure not in measures:
            measures[row.measure] = _load(ledger, Measure.create_id(plan_id, row.measure))
        measure = measures[row.measure]
        if measure is None:
            problems.append(Problem(where, "measure", row.measure, f"the plan has no measure {row.measure}"))
            continue
        try:
            command = _command(measure, quarter, row)
            if command is not None:
                _apply(measure, quarter, row, command)
                writes.append(_Write(row, measure.id, command))
        except DomainError as e:
            problems.append(Problem(where, e.field, e.value, e.message))
    return writes


def _load(ledger: Ledger, measure_id: UUID) -> Measure | None:
    try:
        found: object = ledger.repository.get(measure_id)
    except AggregateNotFoundError:
        return None
    # A copy: the rows are tried on it, and it is never saved.
    return copy.deepcopy(found) if isinstance(found, Measure) else None


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


def _apply(measure: Measure, quarter: Quarter, row: ReturnRow, command: str) -> None:
    if command == "markFigureUnavailable":
        measure.mark_figure_unavailable(row.component, quarter, reason=row.unavailable, actor="returns-check")
    elif command == "submitFigure" and row.amount is not None:
        measure.submit_figure(
            row.component,
            quarter,
            row.amount,
            reported_change=row.reported_change,
            commentary=row.commentary,
            actor="returns-check",
        )
    elif row.amount is not None:
        measure.revise_figure(
            row.component,
            quarter,
            row.amount,
            reason=row.reason,
            reported_change=row.reported_change,
            commentary=row.commentary,
            actor="returns-check",
        )


def _record(ledger: Ledger, req: Request, quarter: Quarter, write: _Write) -> None:
    row, measure_id = write.row, write.measure_id
    if write.command == "markFigureUnavailable":
        ledger.mark_figure_unavailable(req, measure_id, row.component, quarter, reason=row.unavailable)
    elif write.command == "submitFigure" and row.amount is not None:
        ledger.submit_figure(
            req,
            measure_id,
            row.component,
            quarter,
            row.amount,
            reported_change=row.reported_change,
            commentary=row.commentary,
        )
    elif row.amount is not None:
        ledger.revise_figure(
            req,
            measure_id,
            row.component,
            quarter,
            row.amount,
            reason=row.reason,
            reported_change=row.reported_change,
            commentary=row.commentary,
        )
