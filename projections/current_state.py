"""The current-state read model: plans, themes, measures and every assessed figure.

Each event is applied to its aggregate (kept warm in a small cache, loaded from
the event store on a miss) and the aggregate's whole view is written in the
same transaction as the tracking row, then a NOTIFY carries the position to
every service process once the transaction commits.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from typing import Any
from uuid import UUID

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresTrackingRecorder
from eventsourcing.projection import Projection
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Composed, Identifier, Placeholder

from domain.audit import AuditFacts, describe
from domain.ledger import Ledger
from domain.measure import Measure
from domain.plan import Plan
from domain.values import Amount
from domain.view import FigureView, MeasureView, measure_view
from projections.tables import DDL, TABLES

CHANNEL = "measure_ledger_view"
NAME = "current_state"
CACHE_SIZE = 2048


def sort_key(number: str) -> str:
    """Order 1.2 before 1.10: digits padded, other text kept."""
    return re.sub(r"\d+", lambda m: m.group().zfill(8), number)


class CurrentStateView(PostgresTrackingRecorder):
    """Tables of the current state, and the tracking row that says how far they go."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sql_create_statements.extend(Composed([SQL(statement)]) for statement in DDL)

    def record_plan(self, plan: Plan, audit: dict[str, Any], tracking: Tracking) -> None:
        with self.datastore.transaction(commit=True) as curs:
            self._insert_tracking(curs, tracking)
            _insert(curs, "audit_entries", [dict(audit, position=tracking.notification_id)])
            curs.execute(
                """INSERT INTO plans VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
                ON CONFLICT (id) DO UPDATE SET version = excluded.version,
                    modified_at = excluded.modified_at, position = excluded.position""",
                (
                    plan.id,
                    plan.partnership,
                    plan.title,
                    plan.year,
                    plan.period_start,
                    plan.period_end,
                    plan.discrepancy_threshold,
                    plan.version,
                    plan.created_on,
                    plan.created_by,
                    plan.modified_on,
                    tracking.notification_id,
                ),
            )
            curs.execute("DELETE FROM themes WHERE plan_id = %s", (plan.id,))
            curs.executemany(
                "INSERT INTO themes VALUES (%s, %s, %s, %s)",
                [(plan.id, t.code, t.title, i) for i, t in enumerate(plan.themes)],
            )
            self._notify(curs, tracking)

    def record_measure(self, view: MeasureView, audit: dict[str, Any], tracking: Tracking) -> None:
        with self.datastore.transaction(commit=True) as curs:
            self._insert_tracking(curs, tracking)
            _insert(curs, "audit_entries", [dict(audit, position=tracking.notification_id)])
            write_measure(curs, view, tracking.notification_id)
            # Measures change their plan's freshness too: caches key on it.
            curs.execute("UPDATE plans SET position = %s WHERE id = %s", (tracking.notification_id, view.plan_id))
            self._notify(curs, tracking)

    def record_position(self, tracking: Tracking) -> None:
        with self.datastore.transaction(commit=True) as curs:
            self._insert_tracking(curs, tracking)
            self._notify(curs, tracking)

    def clear(self) -> None:
        """Empty every table and forget the position, ready for a rebuild."""
        with self.datastore.transaction(commit=True) as curs:
            curs.execute("TRUNCATE " + ", ".join(TABLES))
            curs.execute(f"DELETE FROM {self.tracking_table_name}")  # noqa: S608

    def position(self, application_name: str) -> int:
        return self.max_tracking_id(application_name) or 0

    @staticmethod
    def _notify(curs: Cursor[DictRow], tracking: Tracking) -> None:
        # Delivered only when the transaction commits, so a listener that reads
        # after the notice always sees the rows.
        curs.execute("SELECT pg_notify(%s, %s)", (CHANNEL, str(tracking.notification_id)))


def entry(event: Any, facts: AuditFacts) -> dict[str, Any]:
    """An audit row for an event, less its position."""
    return {
        "recorded_at": event.timestamp,
        "actor": event.actor,
        "action": facts.action,
        "plan_id": facts.plan_id,
        "measure_id": facts.measure_id,
        "measure_number": facts.measure_number,
        "component": facts.component,
        "quarter": facts.quarter,
        "field": facts.field,
        "before": facts.before,
        "after": facts.after,
        "reason": facts.reason,
    }


def _insert(curs: Cursor[DictRow], table: str, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    columns = list(rows[0])
    statement = SQL("INSERT INTO {} ({}) VALUES ({})").format(
        Identifier(table),
        SQL(", ").join(Identifier(c) for c in columns),
        SQL(", ").join(Placeholder(c) for c in columns),
    )
    curs.executemany(statement, rows)


def write_measure(curs: Cursor[DictRow], view: MeasureView, position: int) -> None:
    """Replace everything the read model holds about one measure."""
    d = view.definition
    mid = view.id
    curs.execute(
        """INSERT INTO measures VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
        ON CONFLICT (id) DO UPDATE SET title = excluded.title, description = excluded.description,
            direction = excluded.direction, basis = excluded.basis, tolerance = excluded.tolerance,
            unit = excluded.unit, status = excluded.status, version = excluded.version,
            modified_at = excluded.modified_at, position = excluded.position""",
        (
            mid,
            view.plan_id,
            view.theme_code,
            view.number,
            sort_key(view.number),
            d.title,
            d.description,
            d.direction.value,
            d.basis.value,
            d.tolerance,
            d.unit,
            view.status.value,
            view.version,
            view.modified_at,
            position,
        ),
    )
    for table in ("components", "baselines", "figures", "quarter_results"):
        curs.execute(SQL("DELETE FROM {} WHERE measure_id = %s").format(Identifier(table)), (mid,))
    _insert(
        curs,
        "components",
        [{"measure_id": mid, "key": c.key, "label": c.label, "ordinal": i} for i, c in enumerate(view.components)],
    )
    _insert(
        curs,
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
    )
    _insert(curs, "figures", [_figure_row(view, f) for f in view.figures])
    _insert(
        curs,
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
    )


def _figure_row(view: MeasureView, f: FigureView) -> dict[str, Any]:
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


class CurrentState(Projection[CurrentStateView]):
    """Keeps the current-state tables in step with the ledger."""

    name = NAME

    def __init__(self, view: CurrentStateView, ledger: Ledger) -> None:
        super().__init__(view)
        self.ledger = ledger
        self.cache: OrderedDict[UUID, Aggregate] = OrderedDict()

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        # Idempotency keys and anything else not shown: still tracked, so
        # the position moves past it.
        self.view.record_position(tracking)

    @process_event.register
    def _(self, domain_event: Plan.Event, tracking: Tracking) -> None:
        previous = self._previous(domain_event)
        facts = describe(domain_event, previous)
        plan = domain_event.mutate(previous)
        assert isinstance(plan, Plan)
        self.view.record_plan(plan, entry(domain_event, facts), tracking)
        self._keep(plan)

    @process_event.register
    def _(self, domain_event: Measure.Event, tracking: Tracking) -> None:
        previous = self._previous(domain_event)
        facts = describe(domain_event, previous)
        measure = domain_event.mutate(previous)
        assert isinstance(measure, Measure)
        self.view.record_measure(measure_view(measure), entry(domain_event, facts), tracking)
        self._keep(measure)

    def _previous(self, event: Any) -> Aggregate | None:
        """The aggregate just before this event, from the cache or the event store."""
        if event.originator_version == 1:
            return None
        cached = self.cache.pop(event.originator_id, None)
        if cached is not None and cached.version == event.originator_version - 1:
            return cached
        loaded: Aggregate = self.ledger.repository.get(event.originator_id, version=event.originator_version - 1)
        return loaded

    def _keep(self, aggregate: Aggregate) -> None:
        self.cache[aggregate.id] = aggregate
        while len(self.cache) > CACHE_SIZE:
            self.cache.popitem(last=False)
