"""The read model's rows for a plan or a measure, keyed as projections/tables.py keys them."""

from __future__ import annotations

import re
from datetime import datetime
from functools import lru_cache
from typing import Any
from uuid import UUID

from domain.assessed import AssessedFigure, AssessedMeasure
from domain.definition import Definition
from domain.plan import Plan
from domain.values import Amount
from projections.tables import KEYS

Row = dict[str, Any]
Rows = dict[str, dict[tuple[Any, ...], Row]]


# Cached: every measure's row is made again on a redefinition or a cache miss, and plans repeat numbers.
@lru_cache(maxsize=4096)
def sort_key(number: str) -> str:
    """Order 1.2 before 1.10: digits padded, other text kept."""
    return re.sub(r"\d+", lambda m: m.group().zfill(8), number)


def keyed(table: str, rows: list[Row]) -> dict[tuple[Any, ...], Row]:
    return {tuple(r[k] for k in KEYS[table]): r for r in rows}


def plan_rows(plan: Plan) -> Rows:
    return {
        "plans": keyed(
            "plans",
            [
                {
                    "id": plan.id,
                    "partnership": plan.partnership,
                    "title": plan.title,
                    "year": plan.year,
                    "period_start": plan.period_start,
                    "period_end": plan.period_end,
                    "discrepancy_threshold": plan.discrepancy_threshold,
                    "version": plan.version,
                    "created_at": plan.created_on,
                    "created_by": plan.created_by,
                    "modified_at": plan.modified_on,
                }
            ],
        ),
        "themes": keyed(
            "themes",
            [{"plan_id": plan.id, "code": t.code, "title": t.title, "ordinal": i} for i, t in enumerate(plan.themes)],
        ),
    }


def measure_row(
    mid: UUID,
    plan_id: UUID,
    theme_code: str,
    number: str,
    d: Definition,
    status: str,
    version: int,
    modified_at: datetime,
) -> Row:
    """A measure's row in `measures`: its definition, where it stands, and its shown status."""
    return {
        "id": mid,
        "plan_id": plan_id,
        "theme_code": theme_code,
        "number": number,
        "sort_key": sort_key(number),
        "title": d.title,
        "description": d.description,
        "direction": d.direction.value,
        "basis": d.basis.value,
        "tolerance": d.tolerance,
        "unit": d.unit,
        "status": status,
        "version": version,
        "modified_at": modified_at,
    }


def measure_rows(view: AssessedMeasure) -> Rows:
    d = view.definition
    mid = view.id
    return {
        "measures": {
            (mid,): measure_row(
                view.id,
                view.plan_id,
                view.theme_code,
                view.number,
                d,
                view.status.value,
                view.version,
                view.modified_at,
            )
        },
        "components": keyed(
            "components",
            [{"measure_id": mid, "key": c.key, "label": c.label, "ordinal": i} for i, c in enumerate(view.components)],
        ),
        "baselines": keyed(
            "baselines",
            [
                {
                    "measure_id": mid,
                    "component": key,
                    "seq": seq,
                    **bv.record.amount.as_dict(),
                    "period": bv.record.period,
                    "profile": list(bv.record.profile) if bv.record.profile else None,
                    "note": bv.record.note,
                    "is_reset": bv.record.is_reset,
                    "reason": bv.record.stamp.reason,
                    "recorded_at": bv.record.stamp.at,
                    "recorded_by": bv.record.stamp.by,
                    "discrepancy": bv.discrepancy,
                    "discrepancy_reason": bv.discrepancy_reason,
                }
                for key, views in view.baselines.items()
                for seq, bv in enumerate(views, start=1)
            ],
        ),
        "figures": keyed("figures", [_figure_row(view, f) for f in view.figures]),
        "quarter_results": keyed(
            "quarter_results",
            [
                {
                    "measure_id": mid,
                    "quarter": q.quarter.value,
                    "status": q.status.value,
                    "computed_status": q.computed_status.value,
                    "override_status": q.override.status.value if q.override else None,
                    "override_reason": q.override.stamp.reason if q.override else None,
                    "override_by": q.override.stamp.by if q.override else None,
                    "override_at": q.override.stamp.at if q.override else None,
                    "commentary": q.commentary,
                    "commentary_at": q.commentary_at,
                    "commentary_by": q.commentary_by,
                }
                for q in view.quarters
            ],
        ),
    }


def _figure_row(view: AssessedMeasure, f: AssessedFigure) -> Row:
    amount = f.record.amount or Amount()
    a = f.assessment
    return {
        "measure_id": view.id,
        "component": f.component,
        "quarter": f.quarter.value,
        **amount.as_dict(),
        "available": f.record.available,
        "unavailable_reason": f.record.unavailable_reason,
        "measured": a.measured,
        "comparison_value": a.comparison,
        "change": a.change,
        "status": a.status.value,
        "rule": a.rule,
        "baseline_seq": len(view.baselines.get(f.component, ())) if f.baseline else None,
        "reported_change": f.record.reported_change,
        "discrepancy": a.discrepancy,
        "discrepancy_reason": a.discrepancy_reason,
        "commentary": f.record.commentary,
        "revision": f.record.revision,
        "reason": f.record.stamp.reason,
        "recorded_at": f.record.stamp.at,
        "recorded_by": f.record.stamp.by,
    }
