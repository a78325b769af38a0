"""Reading a quarterly returns CSV on its own (no ledger): every row checked, every problem listed.

Columns (a header row is required; any order): `measure`, `component`,
`value`, `numerator`, `denominator`, `reported_change`, `commentary`,
`unavailable_reason`, and `reason` (which makes a changed figure a revision).
A row gives a value, or a numerator and a denominator, or an unavailable reason.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from domain.errors import DomainError
from domain.values import Amount, optional_decimal, parse_amount, parse_component_key
from service.plan_file.problems import Problem, ProblemsFound, read_text
from service.plan_file.steps import amount_text

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
        """The row's figure as a person would write it, or why it is unavailable."""
        return amount_text(self.amount) if self.amount else f"unavailable ({self.unavailable})"


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
