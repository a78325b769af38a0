"""What a webhook can be sent: each kind of message and the ledger facts it is made from.

The read model's `status_changes` and `audit_entries` are the outbox: the projection writes every event's
rows there exactly once, in position order, with its plan's id. A status change is a `status_changes`
row; every other kind is an audit entry, picked out by its action (the event's class name), so the
quarterly cycle's kinds are delivered as soon as its events are recorded.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum


class EventKind(Enum):
    """The kinds of message a webhook may ask for."""

    STATUS_CHANGED = "status.changed"  # a quarter's status changed, whatever the cause
    RETURN_SUBMITTED = "return.submitted"
    RETURN_APPROVED = "return.approved"
    RETURN_SENT_BACK = "return.sent_back"
    QUARTER_PUBLISHED = "quarter.published"
    LEDGER_EVENT = "ledger.event"  # every event the ledger records

    @property
    def type(self) -> str:
        """The message's `type` in the body."""
        return self.value


# Audit actions (event class names) with a kind of their own.
ACTIONS: dict[EventKind, str] = {
    EventKind.RETURN_SUBMITTED: "ReturnSubmitted",
    EventKind.RETURN_APPROVED: "ReturnApproved",
    EventKind.RETURN_SENT_BACK: "ReturnSentBack",
    EventKind.QUARTER_PUBLISHED: "QuarterPublished",
}
_KIND_OF_ACTION = {action: kind for kind, action in ACTIONS.items()}


def audit_type(action: str) -> str:
    """The `type` of an audit entry's message: its action's own kind, else `ledger.event`."""
    return _KIND_OF_ACTION.get(action, EventKind.LEDGER_EVENT).type


def audit_actions(kinds: Iterable[EventKind]) -> list[str] | None:
    """The audit actions a webhook of these kinds is sent: None for every one (LEDGER_EVENT)."""
    chosen = set(kinds)
    if EventKind.LEDGER_EVENT in chosen:
        return None
    return sorted(ACTIONS[k] for k in chosen if k in ACTIONS)


def parse_kinds(names: Iterable[str]) -> frozenset[EventKind]:
    """Kinds from their stored names (`EventKind.name`)."""
    return frozenset(EventKind[name] for name in names)
