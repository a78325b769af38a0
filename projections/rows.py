"""The read model's rows: one builder per table, each making a row from what the domain decided.

Every path that writes a row calls its table's builder here: a measure's rows recomputed whole or
only those one event reaches (projections/measure_rows.py), a plan's rows, and the test that checks
them all against the domain's whole-measure assessment (domain/assessed.py). Statuses, quarters,
directions and bases go in as the domain's enums: they are `str` subclasses, sent as their text.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import lru_cache
from typing import Any
from uuid import UUID

from domain.definition import Component, Definition
from domain.plan import Plan
from domain.publishing import Collection, Publication
from domain.records import BaselineRecord, FigureRecord, Override
from domain.returns import Owner, ReturnRecord
from domain.rules import Assessment, rate_shown
from domain.values import Amount, Basis, Quarter, Status
from projections.read_model_tables import KEYS

Row = dict[str, Any]
# A row's key: its values of projections/read_model_tables.py KEYS, except that a measure's rows are keyed by the
# measure's UUID's `.int` (projections/measure_rows.py says why); the database is sent the row alone.
Key = tuple[Any, ...]
Rows = dict[str, dict[Key, Row]]
NO_AMOUNT = Amount()


# Cached: every measure's row is made again on every event, and plans repeat numbers.
@lru_cache(maxsize=4096)
def sort_key(number: str) -> str:
    """Order 1.2 before 1.10: digits padded, other text kept."""
    return re.sub(r"\d+", lambda m: m.group().zfill(8), number)


def keyed(table: str, rows: list[Row]) -> dict[Key, Row]:
    return {tuple(r[k] for k in KEYS[table]): r for r in rows}


def plan_rows(plan: Plan) -> Rows:
    """A plan's row in `plans`, its themes' in `themes`, its quarters' in `collections`, its `publications`."""
    pid = plan.id
    return {
        "collections": {(pid, q): collection_row(pid, q, c) for q, c in plan.collections.items()},
        "publications": {(pid, p.id): publication_row(pid, p) for p in plan.publications},
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
    status: Status,
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
        "direction": d.direction,
        "basis": d.basis,
        "tolerance": d.tolerance,
        "unit": d.unit,
        "status": status,
        "version": version,
        "modified_at": modified_at,
    }


def measure_row_moved(row: Row, status: Status, version: int, modified_at: datetime) -> Row:
    """`measure_row` after an event that changed neither the definition nor the plan, theme or number: `row`,
    the row before it, with its status, version and modified_at moved on."""
    return {**row, "status": status, "version": version, "modified_at": modified_at}


def component_row(mid: UUID, ordinal: int, component: Component) -> Row:
    """A component's row in `components`, in the definition's order."""
    return {"measure_id": mid, "key": component.key, "label": component.label, "ordinal": ordinal}


def baseline_row(
    mid: UUID, component: str, seq: int, record: BaselineRecord, discrepancy_reason: str | None, basis: Basis
) -> Row:
    """A component's `seq`th baseline (from 1) in `baselines`, with its rate where it is one (by the measure's
    `basis`), flagged where its own arithmetic disagrees."""
    amount = record.amount
    return {
        "measure_id": mid,
        "component": component,
        "seq": seq,
        "value": amount.value,
        "numerator": amount.numerator,
        "denominator": amount.denominator,
        "rate": rate_shown(basis, amount),
        "period": record.period,
        "profile": list(record.profile) if record.profile else None,
        "note": record.note,
        "is_reset": record.is_reset,
        "reason": record.stamp.reason,
        "recorded_at": record.stamp.at,
        "recorded_by": record.stamp.by,
        "discrepancy": discrepancy_reason is not None,
        "discrepancy_reason": discrepancy_reason,
    }


def figure_row(
    mid: UUID,
    component: str,
    quarter: Quarter,
    record: FigureRecord,
    assessment: Assessment,
    baseline_seq: int | None,
) -> Row:
    """A component's quarter in `figures`: the figure as recorded and its assessment against baseline `seq`."""
    amount = record.amount or NO_AMOUNT
    a, stamp = assessment, record.stamp
    return {
        "measure_id": mid,
        "component": component,
        "quarter": quarter,
        "value": amount.value,
        "numerator": amount.numerator,
        "denominator": amount.denominator,
        "available": record.amount is not None,
        "unavailable_reason": record.unavailable_reason,
        "measured": a.measured,
        "rate": a.rate,
        "progress": a.progress,
        "comparison_value": a.comparison,
        "change": a.change,
        "status": a.status,
        "rule": a.rule,
        "baseline_seq": baseline_seq,
        "reported_change": record.reported_change,
        "discrepancy": a.discrepancy,
        "discrepancy_reason": a.discrepancy_reason,
        "commentary": record.commentary,
        "revision": record.revision,
        "reason": stamp.reason,
        "recorded_at": stamp.at,
        "recorded_by": stamp.by,
    }


def quarter_row(
    mid: UUID,
    quarter: Quarter,
    computed: Status,
    override: Override | None,
    commentary: str | None,
    commentary_at: datetime | None,
    commentary_by: str | None,
) -> Row:
    """A measure's quarter in `quarter_results`: the status shown (the override, else the computed one)."""
    # Asked once rather than for each of the override's columns: most quarters have none.
    if override is None:
        status, overridden, reason, by, at = computed, None, None, None, None
    else:
        stamp = override.stamp
        status = overridden = override.status
        reason, by, at = stamp.reason, stamp.by, stamp.at
    return {
        "measure_id": mid,
        "quarter": quarter,
        "status": status,
        "computed_status": computed,
        "override_status": overridden,
        "override_reason": reason,
        "override_by": by,
        "override_at": at,
        "commentary": commentary,
        "commentary_at": commentary_at,
        "commentary_by": commentary_by,
    }


def owner_row(mid: UUID, owner: Owner) -> Row:
    """A measure's owner in `owners`: who reports it, for which agency."""
    stamp = owner.stamp
    return {
        "measure_id": mid,
        "principal": owner.principal,
        "agency": owner.agency,
        "assigned_at": stamp.at,
        "assigned_by": stamp.by,
        "reason": stamp.reason,
    }


def return_row(mid: UUID, quarter: Quarter, record: ReturnRecord) -> Row:
    """A measure's return for a quarter in `returns`, as its last action left it."""
    return {
        "measure_id": mid,
        "quarter": quarter,
        "state": record.state,
        "submitted_by": record.submitted.by,
        "submitted_at": record.submitted.at,
        "missing": list(record.missing),
        "acted_by": record.stamp.by,
        "acted_at": record.stamp.at,
        "reason": record.stamp.reason,
    }


def collection_row(plan_id: UUID, quarter: Quarter, collection: Collection) -> Row:
    """A plan's quarter in `collections`: when its returns are due."""
    changed = collection.changed
    return {
        "plan_id": plan_id,
        "quarter": quarter,
        "due_on": collection.due_on,
        "opened_by": collection.opened.by,
        "opened_at": collection.opened.at,
        "changed_by": changed.by if changed else None,
        "changed_at": changed.at if changed else None,
        "change_reason": changed.reason if changed else None,
    }


def publication_row(plan_id: UUID, p: Publication) -> Row:
    """A publication in `publications`; its digest is the hash chain's link at `position`, read beside it."""
    return {
        "plan_id": plan_id,
        "id": p.id,
        "quarter": p.quarter,
        "title": p.title,
        "presented_on": p.presented_on,
        "position": p.position,
        "forced": p.forced,
        "outstanding_numbers": [o.number for o in p.outstanding],
        "outstanding_states": [o.state for o in p.outstanding],
        "reason": p.stamp.reason,
        "published_by": p.stamp.by,
        "published_at": p.stamp.at,
    }
