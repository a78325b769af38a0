"""The read model: plans, themes, measures and every assessed figure, at every position.

Each event is applied to its aggregate (kept warm in a small cache, loaded from
the event store on a miss); the rows that changed are closed and reopened at
the event's position in the same transaction as the tracking row and the
audit entry, then a NOTIFY carries the position to every service process once
the transaction commits.
"""

from __future__ import annotations

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
from domain.view import measure_view
from projections.rows import Rows, measure_rows, plan_rows
from projections.tables import DDL, KEYS, TABLES

CHANNEL = "measure_ledger_view"
NAME = "current_state"
CACHE_SIZE = 2048


class CurrentStateView(PostgresTrackingRecorder):
    """The read model's tables, and the tracking row that says how far they go."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sql_create_statements.extend(Composed([SQL(statement)]) for statement in DDL)

    def record(self, before: Rows, after: Rows, audit: dict[str, Any] | None, tracking: Tracking) -> None:
        """Move the tables from one state of an aggregate to the next, exactly once."""
        with self.datastore.transaction(commit=True) as curs:
            self._insert_tracking(curs, tracking)
            if audit is not None:
                _insert(curs, "audit_entries", [dict(audit, position=tracking.notification_id)])
                _insert(curs, "status_changes", status_changes(before, after, audit, tracking.notification_id))
            write_changes(curs, before, after, tracking.notification_id)
            # Delivered only when the transaction commits, so a listener that
            # reads after the notice always sees the rows.
            curs.execute("SELECT pg_notify(%s, %s)", (CHANNEL, str(tracking.notification_id)))

    def clear(self) -> None:
        """Empty every table and forget the position, ready for a rebuild."""
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(SQL("TRUNCATE {}").format(SQL(", ").join(Identifier(t) for t in TABLES)))
            curs.execute(SQL("DELETE FROM {}").format(Identifier(self.tracking_table_name)))

    def position(self, application_name: str) -> int:
        return self.max_tracking_id(application_name) or 0


def write_changes(curs: Cursor[DictRow], before: Rows, after: Rows, position: int) -> None:
    """Close the rows that stopped being true at `position` and open the ones that start."""
    for table in KEYS:
        old, new = before.get(table, {}), after.get(table, {})
        ended = [key for key, row in old.items() if new.get(key) != row]
        started = [row for key, row in new.items() if old.get(key) != row]
        if ended:
            match = SQL(" AND ").join(SQL("{} = %s").format(Identifier(c)) for c in KEYS[table])
            curs.executemany(
                SQL("UPDATE {} SET valid_to = %s WHERE {} AND valid_to IS NULL").format(Identifier(table), match),
                [(position, *key) for key in ended],
            )
        _insert(curs, table, [dict(row, valid_from=position) for row in started])


def status_changes(before: Rows, after: Rows, audit: dict[str, Any], position: int) -> list[dict[str, Any]]:
    """A fact for each quarter whose status this event changed, whatever the cause."""
    old, new = before.get("quarter_results", {}), after.get("quarter_results", {})
    measure = next(iter(after.get("measures", {}).values()), None)
    changes = []
    for key, row in sorted(new.items(), key=lambda item: item[1]["quarter"]):
        previous = old.get(key)
        if previous is None or measure is None or previous["status"] == row["status"]:
            continue
        changes.append(
            {
                "position": position,
                "quarter": row["quarter"],
                "recorded_at": audit["recorded_at"],
                "actor": audit["actor"],
                "action": audit["action"],
                "plan_id": measure["plan_id"],
                "measure_id": measure["id"],
                "measure_number": measure["number"],
                "from_status": previous["status"],
                "to_status": row["status"],
                "reason": audit["reason"],
            }
        )
    return changes


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


class CurrentState(Projection[CurrentStateView]):
    """Keeps the current-state tables in step with the ledger."""

    name = NAME

    def __init__(self, view: CurrentStateView, ledger: Ledger) -> None:
        super().__init__(view)
        self.ledger = ledger
        self.cache: OrderedDict[UUID, tuple[Aggregate, Rows]] = OrderedDict()

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        # Idempotency keys and anything else not shown: still tracked, so
        # the position moves past it.
        self.view.record({}, {}, None, tracking)

    @process_event.register
    def _(self, domain_event: Plan.Event, tracking: Tracking) -> None:
        self._apply(domain_event, tracking)

    @process_event.register
    def _(self, domain_event: Measure.Event, tracking: Tracking) -> None:
        self._apply(domain_event, tracking)

    def _apply(self, event: Any, tracking: Tracking) -> None:
        previous, before = self._previous(event)
        facts = describe(event, previous)
        aggregate = event.mutate(previous)
        after = rows_of(aggregate)
        self.view.record(before, after, entry(event, facts), tracking)
        self._keep(aggregate, after)

    def _previous(self, event: Any) -> tuple[Aggregate | None, Rows]:
        """The aggregate just before this event, and its rows, from the cache or the event store."""
        if event.originator_version == 1:
            return None, {}
        cached = self.cache.pop(event.originator_id, None)
        if cached is not None and cached[0].version == event.originator_version - 1:
            return cached
        loaded: Aggregate = self.ledger.repository.get(event.originator_id, version=event.originator_version - 1)
        return loaded, rows_of(loaded)

    def _keep(self, aggregate: Aggregate, rows: Rows) -> None:
        self.cache[aggregate.id] = (aggregate, rows)
        while len(self.cache) > CACHE_SIZE:
            self.cache.popitem(last=False)


def rows_of(aggregate: Any) -> Rows:
    if isinstance(aggregate, Plan):
        return plan_rows(aggregate)
    assert isinstance(aggregate, Measure)
    return measure_rows(measure_view(aggregate))
