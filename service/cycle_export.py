"""The reporting cycle in an exported plan file: owners and returns of each measure, the plan's `cycle`.

Written so that `import_plan` of the export records the same cycle: each return action and each
publication names the principal who made it (`by`), since an approval must be someone else's than its
submission; where a publication was made after a later quarter's figures, it says so (`after_quarter`).
"""

from __future__ import annotations

from typing import Any

from domain.measure import Measure
from domain.plan import Plan
from domain.values import Quarter
from service.plan_file.cycle import ACTION_OF


def measure_cycle(measure: Measure) -> dict[str, Any]:
    """A measure's `owners` and `returns`, where it has any."""
    out: dict[str, Any] = {}
    if measure.owners:
        out["owners"] = [
            _present(principal=o.principal, agency=o.agency, reason=o.stamp.reason) for o in measure.owners
        ]
    returns = {
        q.value: [
            _present(action=ACTION_OF[r.state], by=r.stamp.by, reason=r.stamp.reason) for r in measure.return_history[q]
        ]
        for q in Quarter
        if q in measure.return_history
    }
    if returns:
        out["returns"] = returns
    return out


def plan_cycle(plan: Plan, measures: list[Measure]) -> dict[str, Any]:
    """The plan's `cycle`: each quarter's due dates and publications."""
    cycle: dict[str, Any] = {}
    for q in Quarter:
        entry: dict[str, Any] = {}
        collection = plan.collections.get(q)
        if collection is not None:
            (first, _), *changes = collection.dates
            entry["due_on"] = first.isoformat()
            if changes:
                entry["due_date_changes"] = [
                    _present(due_on=due.isoformat(), reason=stamp.reason, by=stamp.by) for due, stamp in changes
                ]
        publications = []
        for p in plan.published(q):
            published = _present(
                title=p.title,
                presented_on=p.presented_on.isoformat(),
                by=p.stamp.by,
                forced=True if p.forced else None,
                reason=p.stamp.reason,
            )
            after = _after_quarter(measures, p.stamp.at)
            if after is not None and after.number > q.number:
                published["after_quarter"] = after.value
            publications.append(published)
        if publications:
            entry["publications"] = publications
        if entry:
            cycle[q.value] = entry
    return cycle


def _after_quarter(measures: list[Measure], moment: Any) -> Quarter | None:
    """The latest quarter with a figure of any of the plan's measures recorded before `moment`."""
    quarters = [
        q for m in measures for (_, q), history in m.figure_history.items() if any(r.stamp.at < moment for r in history)
    ]
    return max(quarters, key=lambda q: q.number, default=None)


def _present(**fields: Any) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}
