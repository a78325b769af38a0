"""docs/rules.md's tables of the 2012-13 plan, read from the document and recomputed by the ledger.

The demo plan file is imported into a Ledger held in memory (the library's
own in-memory persistence), and every row the document shows is checked
against what the rules make of it, so the document cannot drift from the code.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from domain.assessed import AssessedFigure, AssessedMeasure, assess_measure
from domain.ledger import Ledger
from domain.measure import Measure
from domain.rules import rate_of, round1
from domain.values import Amount, Basis
from service.plan_file.loading import load_plan_file
from service.plan_file.recording import import_plan
from tests.e2e.demo import DEMO
from tests.e2e.demo import HAND_CHECKED as READ_OVER_HTTP

RULES = Path(__file__).resolve().parents[2] / "docs" / "rules.md"
FRACTION = re.compile(r"^(?P<numerator>[\d,.]+) of (?P<denominator>[\d,.]+) \((?P<rate>[\d.]+) %\)$")

Row = dict[str, str]


def table(heading: str) -> list[Row]:
    """The first table after a heading of docs/rules.md, each row keyed by the table's header."""
    lines = iter(RULES.read_text(encoding="utf-8").splitlines())
    for line in lines:
        if line.strip() == heading:
            break
    else:
        raise AssertionError(f"docs/rules.md has no heading {heading!r}")
    rows = list(_table_lines(lines))
    header, body = rows[0], rows[2:]
    return [dict(zip(header, row, strict=True)) for row in body]


def _table_lines(lines: Iterator[str]) -> Iterator[list[str]]:
    started = False
    for line in lines:
        if line.startswith("|"):
            started = True
            yield [cell.strip() for cell in line.strip().strip("|").split("|")]
        elif started:
            return


def number(text: str) -> Decimal:
    """A number as the document writes it: `−4.3 %`, `+22.4 %`, `3,573`, `−16.4 points`."""
    return Decimal(text.replace("−", "-").replace(",", "").removesuffix("points").removesuffix("%").strip())


CHANGES = table("### Changes")
DISCREPANCIES = table("### Discrepancies in the report")
STATUSES = table("### Statuses")


@pytest.fixture(scope="module")
def plan() -> dict[str, AssessedMeasure]:
    """The demo plan's measures as the rules assess them, by number."""
    ledger = Ledger(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    plan_file = load_plan_file(DEMO)
    report = import_plan(ledger, plan_file, "importer")
    numbers = [m.number for m in plan_file.measures]
    return {n: assess_measure(ledger.repository.get(Measure.create_id(report.plan_id, n))) for n in numbers}


def figure(plan: dict[str, AssessedMeasure], row: Row) -> AssessedFigure:
    return next(
        f for f in plan[row["measure"]].figures if f.component == row["component"] and f.quarter.value == row["quarter"]
    )


def assert_amount_is_written(amount: Amount, written: str) -> None:
    fraction = FRACTION.match(written)
    if fraction:
        written_fraction = (number(fraction["numerator"]), number(fraction["denominator"]))
        assert (amount.numerator, amount.denominator) == written_fraction
        rate = rate_of(Amount(numerator=amount.numerator, denominator=amount.denominator))
        assert rate is not None and round1(rate) == number(fraction["rate"])
    else:
        assert amount.value == number(written)


@pytest.mark.parametrize("row", CHANGES, ids=[f"{r['measure']} {r['component']} {r['quarter']}" for r in CHANGES])
def test_each_change_worked_out_by_hand_in_the_rules_is_what_the_ledger_computes(
    plan: dict[str, AssessedMeasure], row: Row
) -> None:
    found = figure(plan, row)
    assessment = found.assessment

    assert plan[row["measure"]].definition.basis.value == row["basis"]
    assert found.baseline is not None and found.record.amount is not None
    assert_amount_is_written(found.baseline.amount, row["baseline"])
    assert_amount_is_written(found.record.amount, row["figure"])
    comparison = number(row["comparison"].split("=")[-1])
    assert assessment.comparison is not None and assessment.change is not None
    if assessment.comparison == round(assessment.comparison, 2):
        assert assessment.comparison == comparison
    else:  # a rate such as 36 of 46 is written to one decimal place
        assert round1(assessment.comparison) == comparison
    assert round1(assessment.change) == number(row["change"])
    assert row["change"].endswith("points") == (row["basis"] == Basis.RATE.value)
    assert assessment.status.value == row["status"]
    assert assessment.discrepancy is False, assessment.discrepancy_reason


def test_the_discrepancies_in_the_rules_are_exactly_the_ones_the_ledger_flags(plan: dict[str, AssessedMeasure]) -> None:
    flagged: set[tuple[str, str, str, str]] = set()
    for number_, assessed in plan.items():
        for f in assessed.figures:
            if f.assessment.discrepancy_reason:
                flagged.add((number_, f.component, f.quarter.value, f.assessment.discrepancy_reason))
        for key, baselines in assessed.baselines.items():
            if baselines[-1].discrepancy_reason:
                flagged.add((number_, key, "baseline", baselines[-1].discrepancy_reason))

    written = {(r["measure"], r["component"], r["quarter"], r["the ledger's reason"].strip("`")) for r in DISCREPANCIES}

    assert written == flagged


def test_the_statuses_in_the_rules_are_the_plans_computed_overridden_and_current_statuses(
    plan: dict[str, AssessedMeasure],
) -> None:
    def as_written(number_: str, assessed: AssessedMeasure) -> Row:
        q1, q2 = assessed.quarters[0], assessed.quarters[1]
        return {
            "measure": number_,
            "direction": assessed.definition.direction.value,
            "basis": assessed.definition.basis.value,
            "Q1": q1.computed_status.value,
            "Q2": q2.computed_status.value,
            "Q2 override": q2.override.status.value if q2.override else "—",
            "current status": assessed.status.value,
        }

    assert STATUSES == [as_written(n, v) for n, v in plan.items()]
    # The table shows Q2's overrides only: the plan has none in any other quarter.
    assert [(n, q.quarter.value) for n, v in plan.items() for q in v.quarters if q.override] == [
        (row["measure"], "Q2") for row in STATUSES if row["Q2 override"] != "—"
    ]


def test_the_rules_work_through_every_change_the_api_is_checked_against() -> None:
    over_http = {(n, c, q) for n, c, q, _ in READ_OVER_HTTP}
    in_the_rules = {(r["measure"], r["component"], r["quarter"]) for r in CHANGES if r["basis"] != "RATE"}

    assert in_the_rules == over_http
