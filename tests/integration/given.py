"""Plans and measures recorded through the Ledger, as integration tests need them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from uuid import UUID, uuid4

from domain.commands import AddTheme, CreatePlan, DefineMeasure, SetBaseline
from domain.definition import Definition, parse_definition
from domain.ledger import Ledger, Request
from domain.values import Basis, Direction, parse_amount

OFFICER = Request("officer@stockton.gov.uk")


def a_plan(
    ledger: Ledger,
    title: str | None = None,
    *,
    partnership: str = "SSP",
    start_year: int = 2012,
    theme: tuple[str, str] = ("5", "Criminal damage"),
) -> UUID:
    """A plan for the year from April `start_year`, with one theme (by default 5, Criminal damage)."""
    plan = ledger.handle(
        CreatePlan(
            partnership=partnership,
            title=title or f"Plan {uuid4().hex[:6]}",
            year=f"{start_year}-{(start_year + 1) % 100:02d}",
            period_start=date(start_year, 4, 1),
            period_end=date(start_year + 1, 3, 31),
        ),
        OFFICER,
    )
    ledger.handle(AddTheme(plan.id, code=theme[0], title=theme[1]), OFFICER)
    return plan.id


def a_definition(
    number: str = "5.1",
    *,
    direction: Direction = Direction.REDUCE,
    basis: Basis = Basis.YTD_PRO_RATA,
    tolerance: object = None,
    components: Sequence[tuple[object, object]] = (("total", "Total"),),
) -> Definition:
    """Measure `number`'s definition, by default one component, `total`, to be reduced year to date."""
    return parse_definition(
        title=f"Measure {number}",
        description=None,
        direction=direction,
        basis=basis,
        tolerance=tolerance,
        unit=None,
        components=list(components),
    )


def a_measure(
    ledger: Ledger,
    plan_id: UUID,
    number: str = "5.1",
    *,
    theme_code: str = "5",
    direction: Direction = Direction.REDUCE,
    basis: Basis = Basis.YTD_PRO_RATA,
    tolerance: object = None,
    components: Sequence[tuple[object, object]] = (("total", "Total"),),
    baseline: str | None = "2472",
) -> UUID:
    """Measure `number` (by default of theme 5, with one component, `total`) and, unless None, its
    baseline for `total`."""
    definition = a_definition(number, direction=direction, basis=basis, tolerance=tolerance, components=components)
    measure_id = ledger.handle(
        DefineMeasure(plan_id, theme_code=theme_code, number=number, definition=definition), OFFICER
    ).id
    if baseline is not None:
        ledger.handle(SetBaseline(measure_id, "total", parse_amount(baseline, None, None)), OFFICER)
    return measure_id
