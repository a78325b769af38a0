"""The current-state projection: plans, themes, measures and every assessed figure, at every position.

Each event is applied to its aggregate (kept warm in a small cache with its
rows, loaded from the event store on a miss); only the rows the event can
change are made again (projections/measure_rows.py), and those that changed are
closed and reopened at the event's position in the same transaction as the
tracking row and the audit entry, then a NOTIFY carries the position to every
service process once the transaction commits.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection

from domain.audit import FIGURE_EVENTS, AuditFacts, describe, figure_facts
from domain.ledger import Ledger
from domain.measure import Measure
from domain.plan import Plan
from domain.values import QUARTER_OF
from projections.background_writer import BackgroundWriter
from projections.ledger_store.chain import ChainView, link_through
from projections.measure_rows import changed_rows, measure_rows
from projections.row_changes import RowChanges
from projections.rows import Rows, plan_rows
from projections.view import NAME, CurrentStateView

CACHE_SIZE = 2048
SHOWN = (Plan.Event, Measure.Event)


def status_changes(before: Rows, after: Rows, audit: dict[str, Any], position: int) -> list[dict[str, Any]]:
    """A fact for each quarter whose status this event changed, whatever the cause."""
    old, new = before.get("quarter_results"), after.get("quarter_results")
    if not old or not new:
        # A new measure, or an event that moved no quarter (a plan's, a baseline of a gone component).
        return []
    changes: list[dict[str, Any]] = []
    measure = None
    # In quarter order: every row builder makes a measure's quarters in order (projections/measure_rows.py).
    for key, row in new.items():
        previous = old.get(key)
        if previous is None or previous["status"] == row["status"]:
            continue
        if measure is None:
            # Looked up on the first change only: most events change no quarter's status.
            measure = next(iter(after.get("measures", {}).values()), None)
            if measure is None:
                return changes
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


def entry(event: Any, facts: AuditFacts, position: int, known_at: datetime) -> dict[str, Any]:
    """An event's audit row: its facts (domain/audit.py FACT_COLUMNS) in columns of their names, and the fields
    it changed (domain/revisions.py names them) as they are, for the writer to encode (projections/field_changes.py),
    or None (NULL) for an event that changed none: COPY writes a NULL without calling a dumper."""
    # Unpacked and written out rather than zipped with the column names: this runs for every event.
    action, plan_id, measure_id, measure_number, component, quarter, field, before, after, reason, changes = facts
    return {
        "action": action,
        "plan_id": plan_id,
        "measure_id": measure_id,
        "measure_number": measure_number,
        "component": component,
        "quarter": quarter,
        "field": field,
        "before": before,
        "after": after,
        "reason": reason,
        "position": position,
        "known_at": known_at,
        "recorded_at": event.timestamp,
        "actor": event.actor,
        "changes": changes or None,
    }


class CurrentState(Projection[CurrentStateView]):
    """Keeps the current-state tables in step with the ledger."""

    name = NAME

    def __init__(self, view: CurrentStateView, ledger: Ledger, *, chain: ChainView | None = None) -> None:
        super().__init__(view)
        self.ledger = ledger
        # Linked through a publication's position before the publication is projected (chain.link_through).
        self.chain = chain
        # Keyed by the aggregate's UUID's int, which hashes in C (a UUID's __hash__ is Python-level).
        self.cache: OrderedDict[int, tuple[Aggregate, Rows]] = OrderedDict()
        self.cache_size = CACHE_SIZE
        self.changes = RowChanges()
        self.tracking: Tracking | None = None
        self.known_at: datetime | None = view.known_at()
        self.batch_size = 1
        self.writer: BackgroundWriter | None = None

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        # isinstance rather than the library's singledispatchmethod: dispatch was
        # a measurable share of a rebuild's per-event cost.
        if isinstance(domain_event, SHOWN):
            self._apply(domain_event, tracking)
        else:
            # Idempotency keys and anything else not shown: still tracked, so
            # the position moves past it.
            self._done(tracking)

    @contextmanager
    def batch(self, size: int = 1000, *, background: bool = False) -> Iterator[None]:
        """Gather events into transactions of up to `size` (for catching up), all written on exit.

        With `background`, each transaction is written on a second thread while
        the next is computed (projections/background_writer.py).
        """
        self.batch_size = size
        self.writer = BackgroundWriter(self.view.write) if background else None
        try:
            yield
            self.flush()
            if self.writer is not None:
                self.writer.wait()
        except BaseException:
            # What was not written is dropped, and the cache may be ahead of the tables: start cold.
            self.changes, self.tracking = RowChanges(), None
            self._cold()
            raise
        finally:
            if self.writer is not None:
                self.writer.close()
            self.writer, self.batch_size = None, 1

    def flush(self) -> None:
        if self.tracking is None:
            return
        changes, tracking = self.changes, self.tracking
        self.changes, self.tracking = RowChanges(), None
        try:
            if self.writer is not None:
                self.writer.submit(changes, tracking)
            else:
                self.view.write(changes, tracking)
        except BaseException:
            self._cold()
            raise

    def _cold(self) -> None:
        """Forget everything that may not be in the tables, once they stop moving."""
        if self.writer is not None:
            self.writer.settle()
        self.cache.clear()
        self.known_at = self.view.known_at()

    def _done(self, tracking: Tracking) -> None:
        self.tracking = tracking
        self.changes.events += 1
        if self.changes.events >= self.batch_size:
            self.flush()

    def _apply(self, event: Any, tracking: Tracking) -> None:
        if self.chain is not None and type(event) is Plan.QuarterPublished:
            link_through(self.ledger, self.chain, event.position)
        previous, before = self._previous(event)
        aggregate: Aggregate
        if isinstance(event, FIGURE_EVENTS):
            # Described from the record the measure's apply made, rather than one made again alike: most events
            # are figures'. The measure is changed in place.
            assert isinstance(previous, Measure)
            slot = (event.component, QUARTER_OF[event.quarter])
            old = previous.figures.get(slot)
            # Event.mutate less its checks of the id and version, which `_previous` has made: apply, then move the
            # version and time on.
            event.apply(previous)
            previous.version = event.originator_version
            previous.modified_on = event.timestamp
            aggregate = previous
            facts = figure_facts(event, previous, old, previous.figures[slot])
        else:
            facts = describe(event, previous)
            aggregate = event.mutate(previous)
        position = tracking.notification_id
        # Timestamps are taken before commit, so concurrent writers can record a
        # later position with an earlier time; `known_at` is the running maximum,
        # which makes "what was known at T" move forward as T does.
        at = event.timestamp
        if self.known_at is None or at > self.known_at:
            self.known_at = at
        audit = entry(event, facts, position, self.known_at)
        self.changes.add("audit_entries", [audit])
        changed = self.changed_rows(event, aggregate, before)
        if changed is None:
            after = self.rows_of(aggregate)
            self.changes.add("status_changes", status_changes(before, after, audit, position))
            self.changes.move(before, after, position)
        else:
            # Every quarter whose status can have moved is in `changed`, with the measures row.
            if statuses := status_changes(before, changed, audit, position):
                self.changes.add("status_changes", statuses)
            self.changes.update(before, changed, position)
            after = before  # brought up to date in place
        self._keep(event.originator_id.int, aggregate, after)
        self._done(tracking)

    def _previous(self, event: Any) -> tuple[Aggregate | None, Rows]:
        """The aggregate just before this event, and its rows, from the cache or the event store."""
        if event.originator_version == 1:
            return None, {}
        cached = self.cache.pop(event.originator_id.int, None)
        if cached is not None and cached[0].version == event.originator_version - 1:
            return cached
        loaded: Aggregate = self.ledger.repository.get(event.originator_id, version=event.originator_version - 1)
        return loaded, self.rows_of(loaded)

    def rows_of(self, aggregate: Aggregate) -> Rows:
        """Every row of a plan or a measure."""
        if isinstance(aggregate, Measure):
            return measure_rows(aggregate)
        assert isinstance(aggregate, Plan)
        return plan_rows(aggregate)

    def changed_rows(self, event: Any, aggregate: Aggregate, before: Rows) -> Rows | None:
        """Only the rows `event` can have changed, or None where it can change any (a plan's, a redefinition)."""
        return changed_rows(event, aggregate, before) if isinstance(aggregate, Measure) else None

    def _keep(self, key: int, aggregate: Aggregate, rows: Rows) -> None:
        """Keep an aggregate and its rows under its id's int (the event's: `Aggregate.id` is a Python property)."""
        self.cache[key] = (aggregate, rows)
        while len(self.cache) > self.cache_size:
            self.cache.popitem(last=False)
