"""The webhooks' types: a webhook as its admin sees it (never its secret), and its delivery log."""

from __future__ import annotations

import base64
from datetime import datetime
from enum import Enum
from typing import Annotated
from uuid import UUID

import strawberry
from strawberry.types import Info

from service.cursors import ledger_event_cursor, status_change_cursor
from service.schema.columns import from_columns
from service.schema.enums import described
from service.schema.errors import error
from service.schema.ids import object_id
from service.schema.pages import Edge, Paged, PageInfo
from service.webhooks import registry
from service.webhooks.kinds import EventKind

# Attempts a page of the delivery log shows, by default and at most.
DEFAULT_PAGE, MAX_PAGE = 50, 500

WebhookEventKind = described(
    EventKind,
    "What a webhook is sent: each kind's `type` in the body is its lower-case dotted name.",
    {
        "STATUS_CHANGED": "`status.changed`: a quarter's status changed; `data` is a StatusChange.",
        "RETURN_SUBMITTED": "`return.submitted`: a measure's return was given in; `data` is an AuditEntry.",
        "RETURN_APPROVED": "`return.approved`: a return was signed off; `data` is an AuditEntry.",
        "RETURN_SENT_BACK": "`return.sent_back`: a return went back to its owner; `data` is an AuditEntry.",
        "QUARTER_PUBLISHED": "`quarter.published`: a quarter's report was published; `data` is an AuditEntry.",
        "LEDGER_EVENT": "Every event the ledger records, each under its own `type`; `data` is an AuditEntry.",
    },
    name="WebhookEventKind",
)


@strawberry.enum(description="Whether a webhook is being delivered.")
class WebhookState(Enum):
    ACTIVE = strawberry.enum_value("ACTIVE", description="Delivering; its last attempt, if any, succeeded.")
    FAILING = strawberry.enum_value(
        "FAILING", description="Its last attempt failed: retrying the same message with back-off (`nextAttemptAt`)."
    )  # active, its last attempt failed: retrying with back-off
    PAUSED = strawberry.enum_value(
        "PAUSED",
        description="Not delivering until resumed (by an admin, or after failing too long); nothing is skipped.",
    )


def message_cursor(position: int, quarter: str) -> str:
    """The cursor of the message at (position, quarter): a status change's, or an audit entry's."""
    return status_change_cursor((position, quarter)) if quarter else ledger_event_cursor((position, ""))


@strawberry.type(description="One attempt to deliver one message.")
class WebhookDelivery:
    id: strawberry.ID = strawberry.field(description="Stable and opaque: `WebhookDelivery:<n>`, one per attempt.")
    message_id: str = strawberry.field(description="The `webhook-id` sent, the same on every attempt.")
    type: str = strawberry.field(description="The message's `type`, e.g. `status.changed`.")
    position: int = strawberry.field(description="The ledger position of the message's event.")
    cursor: str = strawberry.field(description="The message's cursor, as its body carries it.")
    attempt: int = strawberry.field(description="1 for a message's first attempt, counting up while it fails.")
    attempted_at: datetime = strawberry.field(description="When it was sent (UTC).")
    latency_ms: float = strawberry.field(description="From sending to the answer (or the failure), in ms.")
    status_code: int | None = strawberry.field(description="The receiver's HTTP status; null if none came.")
    error: str | None = strawberry.field(
        description="Why the attempt failed: a timeout, a refused connection, or the receiver's answer; null when "
        "delivered."
    )
    delivered: bool = strawberry.field(description="True when the receiver answered 2xx.")

    @classmethod
    def from_row(cls, r: registry.Row) -> WebhookDelivery:
        return from_columns(
            cls,
            r,
            id=object_id("WebhookDelivery", r["id"]),
            cursor=message_cursor(r["position"], r["quarter"]),
            latency_ms=round(r["seconds"] * 1000.0, 1),
        )


@strawberry.type(description="One attempt of a page of the delivery log, with its cursor.")
class WebhookDeliveryEdge(Edge[WebhookDelivery]):
    pass


# Not a Connection: the log has no `nodes`.
@strawberry.type(description="A page of a webhook's delivery log, newest first.")
class WebhookDeliveryConnection(Paged[WebhookDelivery]):
    edges: list[WebhookDeliveryEdge] = strawberry.field(description="The page's attempts, newest first.")
    page_info: PageInfo = strawberry.field(
        description="Where the page starts and ends, and whether older attempts follow."
    )
    edge = WebhookDeliveryEdge


def _log_cursor(attempt_id: int) -> str:
    return base64.urlsafe_b64encode(f"attempt:{attempt_id}".encode()).decode().rstrip("=")


def _parse_log_cursor(raw: str) -> int:
    try:
        text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode("ascii")
        prefix, _, number = text.partition(":")
        if prefix == "attempt" and number.isdigit() and len(number) <= 19:
            return int(number)
    except ValueError:
        pass
    raise error("VALIDATION", f"after: {raw[:60]!r} is not a cursor of this delivery log", "after")


@strawberry.type(
    description="Where the ledger's facts are posted for an integration, signed (Standard Webhooks). Its "
    "partnership's admins (the admin role) see and manage it; an operator's admin, every one."
)
class Webhook:
    id: strawberry.ID = strawberry.field(description="Stable and opaque: the webhook's UUID.")
    url: str = strawberry.field(description="Where messages are posted.")
    partnership: str | None = strawberry.field(description="Whose facts it is sent; null: every partnership's.")
    kinds: list[WebhookEventKind] = strawberry.field(description="The kinds of message it is sent.")  # type: ignore[valid-type]
    plan_id: strawberry.ID | None = strawberry.field(description="Only this plan's facts, if set.")
    measure_id: strawberry.ID | None = strawberry.field(description="Only this measure's facts, if set.")
    description: str | None = strawberry.field(description="The admins' note; null for none.")
    state: WebhookState = strawberry.field(description="ACTIVE, FAILING (retrying with back-off) or PAUSED.")
    paused_at: datetime | None = strawberry.field(description="When it was paused (UTC); null unless PAUSED.")
    paused_reason: str | None = strawberry.field(description="Why it was paused: by whom, or the failures.")
    cursor: str = strawberry.field(
        description="The cursor after which messages are still to be delivered: the last one its receiver took."
    )
    position: int = strawberry.field(description="The ledger position delivered up to.")
    failures: int = strawberry.field(description="Failed attempts in a row of the next message.")
    failing_since: datetime | None = strawberry.field(
        description="When its current run of failures began (UTC); null unless FAILING."
    )
    next_attempt_at: datetime | None = strawberry.field(description="When a failing webhook is tried again.")
    last_error: str | None = strawberry.field(description="The last failed attempt's error, whenever it was.")
    last_error_at: datetime | None = strawberry.field(
        description="When the last failed attempt was (UTC); null if none ever failed."
    )
    last_delivered_at: datetime | None = strawberry.field(
        description="When a message was last delivered (UTC); null before the first."
    )
    previous_secret_expires_at: datetime | None = strawberry.field(
        description="While a rotated-out secret still signs beside the new one: until when."
    )
    created_at: datetime = strawberry.field(description="When it was created (UTC).")
    created_by: str = strawberry.field(description="Who created it.")

    @strawberry.field(description=f"Its delivery log, newest first: `first` attempts (at most {MAX_PAGE}).")
    async def deliveries(
        self,
        info: Info,
        first: Annotated[
            int, strawberry.argument(description="How many attempts: 1 to 500 (LIMIT_EXCEEDED otherwise).")
        ] = DEFAULT_PAGE,
        after: Annotated[
            str | None,
            strawberry.argument(
                description="A cursor of this log (`pageInfo.endCursor`): older attempts than it. Null: the newest."
            ),
        ] = None,
    ) -> WebhookDeliveryConnection:
        if not 0 < first <= MAX_PAGE:
            raise error("LIMIT_EXCEEDED", f"first: between 1 and {MAX_PAGE} attempts a page, not {first}", "first")
        before = _parse_log_cursor(after) if after is not None else None
        rows = await registry.attempts(info.context.services.pool, UUID(self.id), first + 1, before)
        cursors = {object_id("WebhookDelivery", r["id"]): _log_cursor(r["id"]) for r in rows}
        page = [WebhookDelivery.from_row(r) for r in rows[:first]]
        return WebhookDeliveryConnection.of(page, lambda d: cursors[d.id], after, len(rows) > first)

    @classmethod
    def from_row(cls, r: registry.Row) -> Webhook:
        paused = r["paused_at"] is not None
        state = WebhookState.PAUSED if paused else WebhookState.FAILING if r["failures"] else WebhookState.ACTIVE
        return from_columns(
            cls,
            r,
            id=strawberry.ID(str(r["id"])),
            kinds=registry.kinds_of(r["kinds"]),
            plan_id=strawberry.ID(str(r["plan_id"])) if r["plan_id"] else None,
            measure_id=strawberry.ID(str(r["measure_id"])) if r["measure_id"] else None,
            state=state,
            cursor=message_cursor(r["cursor_position"], r["cursor_quarter"]),
            position=r["cursor_position"],
            previous_secret_expires_at=registry.signing_until(r),
        )
