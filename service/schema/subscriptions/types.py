"""`StatusChange`: a quarter whose status an event changed, as subscribers receive it.

A ledger event reaches its subscribers as an `AuditEntry` (service/schema/audit/types.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from service.cursors import status_change_cursor
from service.fanout import STATUS_CHANGES, Row
from service.schema.descriptions import ACTOR, RECORDED_AT, STATUS_CHANGE_AFTER
from service.schema.enums import Quarter, Status
from service.schema.ids import object_id

# The arguments `statusChanges` (paged) and `statusChanged` (live) share.
OfPlan = Annotated[strawberry.ID | None, strawberry.argument(description="Only this plan's changes.")]
OfMeasure = Annotated[strawberry.ID | None, strawberry.argument(description="Only this measure's changes.")]
AfterChange = Annotated[str | None, strawberry.argument(description=STATUS_CHANGE_AFTER)]


@strawberry.type(description="A quarter whose status an event changed, whatever the cause.")
class StatusChange:
    id: strawberry.ID = strawberry.field(description="Stable and opaque: `StatusChange:<position>:<quarter>`.")
    cursor: str = strawberry.field(description="Pass as `after` to resume after this message.")
    position: int = strawberry.field(description="The ledger position of the event that changed the status.")
    recorded_at: datetime = strawberry.field(description=RECORDED_AT)
    actor: str = strawberry.field(description=ACTOR)
    plan_id: strawberry.ID = strawberry.field(description="The measure's plan's `id`.")
    measure_id: strawberry.ID = strawberry.field(description="The measure's `id`.")
    measure_number: str = strawberry.field(description="The measure's number, e.g. `5.1`.")
    quarter: Quarter = strawberry.field(description="The quarter whose status changed.")
    from_: Status = strawberry.field(name="from", description="The status before the event.")
    to: Status = strawberry.field(description="The status after the event.")
    reason: str | None = strawberry.field(
        description="Why, where the event carried a reason (an override, a revision, a redefinition); null otherwise."
    )

    @classmethod
    def from_row(cls, r: Row) -> StatusChange:
        return cls(
            id=object_id("StatusChange", r["position"], r["quarter"]),
            cursor=status_change_cursor(STATUS_CHANGES.key(r)),
            position=r["position"],
            recorded_at=r["recorded_at"],
            actor=r["actor"],
            plan_id=strawberry.ID(str(r["plan_id"])),
            measure_id=strawberry.ID(str(r["measure_id"])),
            measure_number=r["measure_number"],
            quarter=Quarter(r["quarter"]),
            from_=Status(r["from_status"]),
            to=Status(r["to_status"]),
            reason=r["reason"],
        )
