"""`AuditEntry`: one recorded event, with the value before and after it, for auditors and mirrors."""

from __future__ import annotations

from datetime import datetime

import strawberry

from service.fanout import LEDGER_EVENTS, Row
from service.schema.cursors import ledger_event_cursor
from service.schema.enums import Quarter


@strawberry.type(description="One event of the ledger: who changed what, when, from what to what, and why.")
class AuditEntry:
    position: int = strawberry.field(description="The event's position in the ledger.")
    cursor: str = strawberry.field(description="Pass as `after` to resume after this entry.")
    recorded_at: datetime
    actor: str
    action: str
    plan_id: strawberry.ID | None
    measure_id: strawberry.ID | None
    measure_number: str | None
    component: str | None
    quarter: Quarter | None
    field: str | None
    before: str | None = strawberry.field(description="The value before the event, as text.")
    after: str | None = strawberry.field(description="The value after the event, as text.")
    reason: str | None

    @classmethod
    def from_row(cls, r: Row) -> AuditEntry:
        return cls(
            position=r["position"],
            cursor=ledger_event_cursor(LEDGER_EVENTS.key(r)),
            recorded_at=r["recorded_at"],
            actor=r["actor"],
            action=r["action"],
            plan_id=strawberry.ID(str(r["plan_id"])) if r["plan_id"] else None,
            measure_id=strawberry.ID(str(r["measure_id"])) if r["measure_id"] else None,
            measure_number=r["measure_number"],
            component=r["component"],
            quarter=Quarter(r["quarter"]) if r["quarter"] else None,
            field=r["field"],
            before=r["before"],
            after=r["after"],
            reason=r["reason"],
        )
