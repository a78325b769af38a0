"""An officer's verdict over a quarter's computed status: set with a reason, cleared with a reason.

The computed status and the override both stay visible; the override is the
officer's, the computed one the rules' (docs/rules.md). Like every change to a
quarter, an override waits while the quarter's return is locked.
`MeasureOverrides` is mixed into `Measure`, which names these events itself so
that their topics are the Measure's (domain/measure.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from eventsourcing.domain import Aggregate

from domain.errors import NotFoundError
from domain.parts import AggregatePart
from domain.records import Override, stamp_of
from domain.values import QUARTER_OF, Quarter, Status, required_text


class MeasureOverrides(AggregatePart):
    """Status overrides: mixed into Measure, whose events these are."""

    class StatusOverridden(Aggregate.Event):
        quarter: str
        status: str
        actor: str
        reason: str

        def apply(self, aggregate: Any) -> None:
            stamp = stamp_of(self, self.reason)
            aggregate.overrides[QUARTER_OF[self.quarter]] = Override(Status(self.status), stamp)

    class StatusOverrideCleared(Aggregate.Event):
        quarter: str
        actor: str
        reason: str

        def apply(self, aggregate: Any) -> None:
            aggregate.overrides.pop(QUARTER_OF[self.quarter], None)

    if TYPE_CHECKING:  # the Measure's state this reads and writes, and its lock (domain/returns.py)
        overrides: dict[Quarter, Override]

        def check_unlocked(self, quarter: Quarter) -> None: ...

    def override_status(self, quarter: Quarter, status: Status, *, reason: object, actor: str) -> None:
        """Set an officer's verdict over the computed one; both stay visible."""
        self.check_unlocked(quarter)
        why = required_text(reason, "reason")
        self.trigger_event(self.StatusOverridden, quarter=quarter.value, status=status.value, reason=why, actor=actor)

    def clear_status_override(self, quarter: Quarter, *, reason: object, actor: str) -> None:
        """Return a quarter to its computed status."""
        self.check_unlocked(quarter)
        why = required_text(reason, "reason")
        if quarter not in self.overrides:
            raise NotFoundError("quarter", f"{quarter.value} has no status override to clear", quarter.value)
        self.trigger_event(self.StatusOverrideCleared, quarter=quarter.value, reason=why, actor=actor)
