"""What an event changed, said plainly: field, value before, value after, reason.

Computed from the aggregate as it stood just before the event, so a reviewer
never has to diff two snapshots by hand.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, NamedTuple

from eventsourcing.domain import Aggregate

from domain.assessed import computed_status
from domain.idempotency import IdempotencyKey
from domain.measure import Measure
from domain.plan import Plan
from domain.publishing import PlanCycle
from domain.records import FigureRecord, amount_of, figure_record
from domain.returns import MeasureCycle, Owner, ReturnEvent
from domain.revisions import FieldChange, figure_changes
from domain.values import QUARTER_OF, Amount


class AuditFacts(NamedTuple):
    """What one event did, for its audit entry. A named tuple: one is made for every event projected, and a
    tuple is made in one step where a frozen dataclass sets each field in turn."""

    action: str
    plan_id: Any = None
    measure_id: Any = None
    measure_number: str | None = None
    component: str | None = None
    quarter: str | None = None
    field: str | None = None
    before: str | None = None
    after: str | None = None
    reason: str | None = None
    # Every field the event changed, before and after: a figure's value, numerator, denominator, reported
    # change, commentary and availability.
    changes: tuple[FieldChange, ...] = ()


# The facts an audit entry keeps in a column of each one's own name; `changes` is kept as one json array.
FACT_COLUMNS = tuple(name for name in AuditFacts._fields if name != "changes")


def show_amount(amount: Amount | None) -> str | None:
    """An amount as a reviewer reads it: `995`, `38/76`, or `56 (38/76)`."""
    if amount is None:
        return None
    return _show(amount.value, amount.numerator, amount.denominator)


def _show(value: Decimal | None, numerator: Decimal | None, denominator: Decimal | None) -> str | None:
    fraction = f"{numerator}/{denominator}" if numerator is not None and denominator is not None else None
    if value is not None and fraction:
        return f"{value} ({fraction})"
    return str(value) if value is not None else fraction


def show_figure(record: FigureRecord | None) -> str | None:
    if record is None:
        return None
    if not record.available:
        return f"unavailable: {record.unavailable_reason}"
    return show_amount(record.amount)


def _show_event_amount(event: Any) -> str | None:
    """`show_amount` of the event's amount, without making the Amount: this runs for every figure."""
    return _show(event.value, event.numerator, event.denominator)


def is_audited(event: object) -> bool:
    """Idempotency keys are bookkeeping, not part of the record."""
    return not isinstance(event, IdempotencyKey.Event)


def describe(event: Any, before: Aggregate | None) -> AuditFacts:
    """The facts of one Plan or Measure event, given the aggregate just before it."""
    action = type(event).__name__
    if type(event) in CYCLE_EVENTS:
        return describe_cycle(event, before)
    if isinstance(event, FIGURE_EVENTS):
        # Asked first: most events are figures.
        return describe_figure(event, before)
    if isinstance(event, Plan.PlanCreated):
        return AuditFacts(action, plan_id=event.originator_id, field="plan", after=event.title)
    if isinstance(event, Plan.ThemeAdded):
        return AuditFacts(action, plan_id=event.originator_id, field="theme", after=f"{event.code} {event.title}")
    if isinstance(event, Measure.MeasureDefined):
        return AuditFacts(
            action,
            plan_id=event.plan_id,
            measure_id=event.originator_id,
            measure_number=event.number,
            field="definition",
            after=event.title,
        )
    assert isinstance(before, Measure), f"{action} needs its measure"
    base: dict[str, Any] = {"plan_id": before.plan_id, "measure_id": before.id, "measure_number": before.number}
    reason = getattr(event, "reason", None)
    if isinstance(event, Measure.MeasureRedefined):
        return AuditFacts(
            action, **base, field="definition", before=before.definition.title, after=event.title, reason=reason
        )
    if isinstance(event, Measure.BaselineSet):
        old = before.baseline(event.component)
        return AuditFacts(
            action,
            **base,
            component=event.component,
            field="baseline",
            before=show_amount(old.amount) if old else None,
            after=_show_event_amount(event),
            reason=reason,
        )
    if isinstance(event, Measure.CommentaryUpdated):
        old_text = before.commentary.get(QUARTER_OF[event.quarter], (None, None))[0]
        return AuditFacts(action, **base, quarter=event.quarter, field="commentary", before=old_text, after=event.text)
    if isinstance(event, (Measure.StatusOverridden, Measure.StatusOverrideCleared)):
        quarter = QUARTER_OF[event.quarter]
        # Only this quarter's statuses, as `assess_measure` shows them: the override, else the computed one.
        override = before.overrides.get(quarter)
        if isinstance(event, Measure.StatusOverridden):
            after_status = event.status
            old_status = override.status.value if override else computed_status(before, quarter).value
        else:
            after_status = computed_status(before, quarter).value
            old_status = override.status.value if override else after_status
        return AuditFacts(
            action, **base, quarter=event.quarter, field="status", before=old_status, after=after_status, reason=reason
        )
    return AuditFacts(action, **base, reason=reason)


FIGURE_EVENTS = (Measure.FigureSubmitted, Measure.FigureMarkedUnavailable)


def describe_figure(event: Any, before: Any) -> AuditFacts:
    """The facts of a figure submitted or marked unavailable, given its measure just before."""
    assert isinstance(before, Measure), f"{type(event).__name__} needs its measure"
    reason = getattr(event, "reason", None)
    old_figure = before.figures.get((event.component, QUARTER_OF[event.quarter]))
    unavailable = isinstance(event, Measure.FigureMarkedUnavailable)
    # The record the event makes, as the measure's own apply makes it.
    new_figure = figure_record(
        event, None if unavailable else amount_of(event), reason if unavailable else None, reason, old_figure, 0
    )
    return figure_facts(event, before, old_figure, new_figure)


def figure_facts(event: Any, measure: Measure, old: FigureRecord | None, new: FigureRecord) -> AuditFacts:
    """The facts of a figure event, given its slot's record before it (None: none yet) and the one it made.

    For whoever applied the event and holds both records: the measure's plan, id and number are as before it.
    """
    reason = getattr(event, "reason", None)
    # show_figure(old), and the after as `describe` says it, without a call for each: this runs for every figure.
    before: str | None = None
    after: str | None
    if old is not None:
        amount = old.amount
        if amount is None:
            before = f"unavailable: {old.unavailable_reason}"
        else:
            before = _show(amount.value, amount.numerator, amount.denominator)
    if isinstance(event, Measure.FigureMarkedUnavailable):
        after = f"unavailable: {reason}"
    else:
        after = _show(event.value, event.numerator, event.denominator)
    # The tuple AuditFacts(...) makes, in the order of its fields, without the named tuple's own __new__ in between.
    facts: AuditFacts = _new(
        AuditFacts,
        (
            type(event).__name__,
            measure.plan_id,
            event.originator_id,  # the measure's id, without the aggregate's Python-level property
            measure.number,
            event.component,
            event.quarter,
            "figure",
            before,
            after,
            reason,
            figure_changes(old, new),
        ),
    )
    return facts


_new = tuple.__new__


# The reporting cycle's events, as the aggregates name them (one set lookup for every other event).
CYCLE_EVENTS = frozenset(
    {
        Plan.CollectionOpened,
        Plan.CollectionDueDateChanged,
        Plan.QuarterPublished,
        Measure.OwnerAssigned,
        Measure.ReturnSubmitted,
        Measure.ReturnApproved,
        Measure.ReturnSentBack,
        Measure.ReturnReopened,
    }
)


def describe_cycle(event: Any, before: Any) -> AuditFacts:
    """The facts of an event of the reporting cycle, given its aggregate just before it."""
    action = type(event).__name__
    reason = getattr(event, "reason", None)
    if isinstance(event, PlanCycle.CollectionOpened):
        return AuditFacts(
            action, plan_id=event.originator_id, quarter=event.quarter, field="due date", after=event.due_on
        )
    if isinstance(event, PlanCycle.CollectionDueDateChanged):
        due = before.collections[QUARTER_OF[event.quarter]].due_on.isoformat()
        return AuditFacts(
            action,
            plan_id=event.originator_id,
            quarter=event.quarter,
            field="due date",
            before=due,
            after=event.due_on,
            reason=reason,
        )
    if isinstance(event, PlanCycle.QuarterPublished):
        shown = f"{event.title}, presented {event.presented_on}, position {event.position}"
        if event.forced:
            shown += ", outstanding " + ", ".join(f"{o['number']} ({o['state']})" for o in event.outstanding)
        return AuditFacts(
            action, plan_id=event.originator_id, quarter=event.quarter, field="publication", after=shown, reason=reason
        )
    base: dict[str, Any] = {"plan_id": before.plan_id, "measure_id": before.id, "measure_number": before.number}
    if isinstance(event, MeasureCycle.OwnerAssigned):
        owner: Owner | None = before.owner
        return AuditFacts(
            action,
            **base,
            field="owner",
            before=f"{owner.principal} for {owner.agency}" if owner else None,
            after=f"{event.principal} for {event.agency}",
            reason=reason,
        )
    assert isinstance(event, ReturnEvent)
    after = event.state.value
    if isinstance(event, MeasureCycle.ReturnSubmitted) and event.missing:
        after += f" (missing: {', '.join(event.missing)})"
    return AuditFacts(
        action,
        **base,
        quarter=event.quarter,
        field="return",
        before=before.return_state(QUARTER_OF[event.quarter]).value,
        after=after,
        reason=reason,
    )
