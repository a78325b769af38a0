"""A plan file's cycle checked on the plan and measures held in memory, before anything is written."""

from __future__ import annotations

from collections.abc import Iterable

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
            node, path = due.where.node, due.where.path
            assert node is not None
            if i == 0:
                r.check(node, path, plan.open_collection, quarter.quarter, due.due_on, actor=due.by or checker)
            else:
                change = plan.change_due_date
                r.check(node, path, change, quarter.quarter, due.due_on, reason=due.reason, actor=due.by or checker)
    for quarter in cycle:
        for spec in quarter.publications:
            node = spec.where.node
            assert node is not None
            r.check(
                node,
                spec.where.path,
                plan.publish,
                spec.quarter,
                title=spec.title,
                presented_on=spec.presented_on,
                force=spec.forced,
                reason=spec.reason,
                facts=facts(expected, spec),
                position=0,
                actor=spec.by or checker,
            )
