"""Plans and measures recorded through the Ledger, as integration tests need them."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

from domain.commands import AddTheme, CreatePlan, DefineMeasure, SetBaseline
from domain.definition import Definition, parse_definition
from domain.ledger import Ledger, Request
from domain.values import Basis, Direction, parse_amount

OFFICER = Request("officer@stockton.gov.uk")
# A definition's fields as parse_definition takes them, but for its title: one component, reduced year to date.
DEFINITION: dict[str, Any] = {
    "description": None,
    "direction": Direction.REDUCE,
    "basis": Basis.YTD_PRO_RATA,
    "tolerance": None,
    "unit": None,
    "components": [("total", "Total")],
}


def a_plan(
    ledger: Ledger,
    title: str | None = None,
    *,
    partnership: str = "SSP",
    start_year: int = 2012,
    theme: tuple[str, str] = ("5", "Criminal damage"),
    discrepancy_threshold: Decimal | None = None,
) -> UUID:
    """A plan for the year from April `start_year`, with one theme (by default 5, Criminal damage)."""
    plan = ledger.handle(
        CreatePlan(
            partnership=partnership,
            title=title or f"Plan {uuid4().hex[:6]}",
            year=f"{start_year}-{(start_year + 1) % 100:02d}",
            period_start=date(start_year, 4, 1),
            period_end=date(start_year + 1, 3, 31),
            discrepancy_threshold=discrepancy_threshold,
        ),
        OFFICER,
    )
    ledger.handle(AddTheme(plan.id, code=theme[0], title=theme[1]), OFFICER)
    return plan.id


def a_definition(number: str = "5.1", **fields: Any) -> Definition:
    """Measure `number`'s definition, by default one component, `total`, to be reduced year to date; `fields`
    are any of parse_definition's to give instead."""
    return parse_definition(**{**DEFINITION, "title": f"Measure {number}", **fields})


def a_measure(
    ledger: Ledger,
    plan_id: UUID,
    number: str = "5.1",
    *,
    theme_code: str = "5",
    baseline: str | None = "2472",
    **definition: Any,
) -> UUID:
    """Measure `number` (by default of theme 5, with one component, `total`; `definition` as a_definition takes
    it) and, unless None, its baseline for `total`."""
    measure_id = ledger.handle(
        DefineMeasure(plan_id, theme_code=theme_code, number=number, definition=a_definition(number, **definition)),
        OFFICER,
    ).id
    if baseline is not None:
        ledger.handle(SetBaseline(measure_id, "total", parse_amount(baseline, None, None)), OFFICER)
    return measure_id
