"""A plan file's cycle checked on the plan and measures held in memory, before anything is written."""

from __future__ import annotations

from collections.abc import Iterable

from domain.ledger import change_plan, publish
from domain.measure import Measure
from domain.plan import Plan
from domain.publishing import Outstanding, PublicationFacts
from domain.returns import ReturnState
from domain.values import Quarter
from service.plan_file.cycle import PublicationSpec, QuarterCycle
from service.plan_file.lines import Reader
from service.plan_file.parsed import MeasureSpec


def outstanding(measures: Iterable[Measure], quarter: Quarter) -> tuple[Outstanding, ...]:
    """The measures whose return for `quarter` is not approved."""
    return tuple(
        Outstanding(m.number, m.return_state(quarter).value)
        for m in measures
        if m.return_state(quarter) is not ReturnState.APPROVED
    )


def facts(measures: Iterable[Measure], spec: PublicationSpec) -> PublicationFacts:
    """What an imported publication is decided on: the returns as the file leaves them.

    A quarter's returns are all recorded before its publications, so the file's final returns are the
    ones each publication sees. Its position is the ledger's when it is recorded; whether anything changed
    since the quarter's last publication is not known, as the file does not interleave its entries.
    """
    return PublicationFacts(None, outstanding(measures, spec.quarter), None)


def check_cycle(r: Reader, plan: Plan, cycle: list[QuarterCycle], measures: list[MeasureSpec], checker: str) -> None:
    """Open each collection, change its dates and publish each quarter on the plan held in memory.

    Entries that name no principal are checked as `checker`.
    """
    expected = [spec.expected for spec in measures]
    for quarter in cycle:
        for i, due in enumerate(quarter.due_dates):
            node = due.where.node
            assert node is not None
            command = quarter.due_date_command(plan.id, i)
            r.check(node, due.where.path, change_plan, plan, command, due.by or checker)
    for quarter in cycle:
        for spec in quarter.publications:
            node = spec.where.node
            assert node is not None
            publication = spec.command(plan.id, facts(expected, spec))
            r.check(node, spec.where.path, publish, plan, publication, 0, spec.by or checker)
