"""The audit trail's types: one recorded event as an auditor reads it, pages of them, and the chain's head."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from projections import field_changes
from service.cursors import ledger_event_cursor
from service.fanout import LEDGER_EVENTS, Row
from service.schema.columns import from_columns
from service.schema.descriptions import (
    ACTION,
    ACTOR,
    ENTRY_COMPONENT,
    ENTRY_FIELD,
    ENTRY_MEASURE_ID,
    ENTRY_MEASURE_NUMBER,
    ENTRY_PLAN_ID,
    ENTRY_QUARTER,
    ENTRY_REASON,
    RECORDED_AT,
)
from service.schema.enums import Quarter
from service.schema.ids import object_id
from service.schema.pages import Connection, Edge


@strawberry.type(description="One field an event changed, with its value before and after, as text.")
class FieldChange:
    field: str = strawberry.field(
        description="The field, by its name in the API: value, numerator, denominator, reportedChange, "
        "commentary, or availability (`available`, or `unavailable: ` and the reason)."
    )
    before: str | None = strawberry.field(
        description="Its value before the event; null where it had none. Numbers as the Decimal scalar writes them."
    )
    after: str | None = strawberry.field(description="Its value after the event; null where it has none.")


@strawberry.type(
    description="One event of the ledger: who changed what, when, from what to what, and why. Read by the "
    "auditor role (auditTrail, changesSince, ledgerEvents)."
)
class AuditEntry:
    id: strawberry.ID = strawberry.field(
        description="Stable and opaque: `AuditEntry:<position>` (a measure's history: `Revision:<position>`)."
    )
    position: int = strawberry.field(description="The event's position in the ledger.")
    cursor: str = strawberry.field(description="Pass as `after` to resume after this entry.")
    recorded_at: datetime = strawberry.field(description=RECORDED_AT)
    actor: str = strawberry.field(description=ACTOR)
    action: str = strawberry.field(description=ACTION)
    plan_id: strawberry.ID | None = strawberry.field(description=ENTRY_PLAN_ID)
    measure_id: strawberry.ID | None = strawberry.field(description=ENTRY_MEASURE_ID)
    measure_number: str | None = strawberry.field(description=ENTRY_MEASURE_NUMBER)
    component: str | None = strawberry.field(description=ENTRY_COMPONENT)
    quarter: Quarter | None = strawberry.field(description=ENTRY_QUARTER)
    field: str | None = strawberry.field(description=ENTRY_FIELD)
    before: str | None = strawberry.field(
        description="The value before the event, as text: for a figure's events its amount (`995`, `38/76`, "
        "`56 (38/76)`) or `unavailable: ` and the reason; `changes` lists every field."
    )
    after: str | None = strawberry.field(description="The value after the event, as text, as `before`.")
    reason: str | None = strawberry.field(description=ENTRY_REASON)
    # The changed fields as stored, json text or NULL (projections/field_changes.py); parsed into FieldChanges only
    # when asked for (a page of a measure's history rarely asks, and it holds a hundred entries).
    changed: strawberry.Private[str | None]

    @strawberry.field(
        description="Every field the event changed, each with its value before and after, in a fixed order: for "
        "a figure's submission, revision or unavailable mark its value, numerator, denominator, reported change, "
        "commentary and availability (a revision that changed only the reported change lists only that). "
        "Empty for other events, whose `field`, `before` and `after` say what changed."
    )
    def changes(self) -> list[FieldChange]:
        return [FieldChange(field=f, before=b, after=a) for f, b, a in field_changes.loads(self.changed)]

    @classmethod
    def from_row(cls, r: Row) -> AuditEntry:
        return from_columns(
            cls,
            r,
            id=object_id(cls.__name__, r["position"]),
            cursor=ledger_event_cursor(LEDGER_EVENTS.key(r)),
            plan_id=strawberry.ID(str(r["plan_id"])) if r["plan_id"] else None,
            measure_id=strawberry.ID(str(r["measure_id"])) if r["measure_id"] else None,
            quarter=Quarter(r["quarter"]) if r["quarter"] else None,
            changed=r["changes"],
        )


@strawberry.type(description="One event of a measure, as an auditor reads it: the same entry as the audit trail's.")
class Revision(AuditEntry):
    pass


@strawberry.enum(description="Which entries come first.")
class AuditOrder(Enum):
    OLDEST_FIRST = strawberry.enum_value("OLDEST_FIRST", description="In the order the events were recorded.")
    NEWEST_FIRST = strawberry.enum_value("NEWEST_FIRST", description="The latest event first.")


@strawberry.input(description="Which entries of the audit trail to list; every part given must match.")
class AuditFilter:
    plan_id: strawberry.ID | None = strawberry.field(default=None, description="Only this plan's entries.")
    measure_id: strawberry.ID | None = strawberry.field(default=None, description="Only this measure's entries.")
    actor: str | None = strawberry.field(default=None, description="The principal who caused the event.")
    action: str | None = strawberry.field(default=None, description="The event's name, e.g. FigureRevised.")
    component: str | None = strawberry.field(
        default=None,
        description="A component's key, e.g. `criminal-damage`: the entries of its baselines and figures. With "
        "`measureId` and `quarter`, one figure's history (as `Figure.history`).",
    )
    quarter: Quarter | None = strawberry.field(
        default=None,
        description="The entries of one quarter: its figures, commentary, status overrides, return and "
        "collection, and its publications.",
    )
    recorded_from: datetime | None = strawberry.field(default=None, description="Recorded at or after this moment.")
    recorded_to: datetime | None = strawberry.field(default=None, description="Recorded before this moment.")
    order: AuditOrder = strawberry.field(
        default=AuditOrder.OLDEST_FIRST,
        description="OLDEST_FIRST (the default) or NEWEST_FIRST; cursors page on in the same order.",
    )


@strawberry.type(description="One entry of a page of the audit trail, with its cursor.")
class AuditEdge(Edge[AuditEntry]):
    pass


@strawberry.type(description="A page of the audit trail.")
class AuditConnection(Connection[AuditEntry]):
    edges: list[AuditEdge] = strawberry.field(  # type: ignore[assignment]
        description="The page's entries with their cursors, in the filter's order."
    )
    edge = AuditEdge


@strawberry.type(
    description="The head of the hash chain over the stored events: publish it, then check the "
    "ledger against it with `measure-ledger verify --digest POSITION:HASH`."
)
class AuditDigest:
    position: int = strawberry.field(description="The last event the chain covers; 0 before any.")
    hash: str = strawberry.field(description="Its link, SHA-256 in hex.")
