"""A webhook's messages, read from the outbox: the read model's `audit_entries` and `status_changes`.

Both tables grow in position order and are written in the projection's transaction with its tracking
position, so the rows up to that position are complete: reading no further than it, a webhook never
passes a row that is yet to be written (a rebuild in shares writes out of order, but clears the
position until it is done). A webhook's messages are ordered by key, (position, '') for an audit entry
and (position, quarter) for a status change, so an event's audit entry comes before its status changes.

The body is the message as the GraphQL API shows it (`AuditEntry`, `StatusChange`), with its position and
the cursor that `auditTrail`, `ledgerEvents`, `statusChanges` and `statusChanged` resume after.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import orjson

from domain.ledger import Ledger
from projections import field_changes
from projections.view import NAME
from service.cursors import ledger_event_cursor, status_change_cursor
from service.webhooks.kinds import EventKind, audit_actions, audit_type

Key = tuple[int, str]
# After every message of a position: status changes sort by quarter, after the audit entry's "".
LAST_QUARTER = "Q4"

# The read model's position: every row at or before it is written.
TRACKED = f"(SELECT notification_id FROM {NAME}_tracking WHERE application_name = '{Ledger.name}')"
_AUDIT_COLUMNS = (
    "position, '' AS sub, recorded_at, actor, action, plan_id, measure_id, measure_number, component, quarter,"
    " field, before, after, reason, NULL::text AS from_status, NULL::text AS to_status,"
    " changes"
)
_STATUS_COLUMNS = (
    "position, quarter AS sub, recorded_at, actor, action, plan_id, measure_id, measure_number,"
    " NULL::text AS component, quarter, NULL::text AS field, NULL::text AS before, NULL::text AS after, reason,"
    " from_status, to_status, NULL::json AS changes"
)


@dataclass(frozen=True)
class Hook:
    """A webhook as the dispatcher delivers it."""

    id: UUID
    partnership: str | None
    url: str
    kinds: frozenset[EventKind]
    plan_id: UUID | None
    measure_id: UUID | None
    secret: str
    previous_secret: str | None
    previous_secret_until: datetime | None
    paused: bool
    paused_reason: str | None
    cursor: Key
    replays: int
    failures: int
    failing_since: datetime | None
    next_attempt_at: datetime | None
    revision: int

    @classmethod
    def from_row(cls, r: asyncpg.Record) -> Hook:
        return cls(
            id=r["id"],
            partnership=r["partnership"],
            url=r["url"],
            kinds=frozenset(EventKind[k] for k in r["kinds"]),
            plan_id=r["plan_id"],
            measure_id=r["measure_id"],
            secret=r["secret"],
            previous_secret=r["previous_secret"],
            previous_secret_until=r["previous_secret_until"],
            paused=r["paused_at"] is not None,
            paused_reason=r["paused_reason"],
            cursor=(r["cursor_position"], r["cursor_quarter"]),
            replays=r["replays"],
            failures=r["failures"],
            failing_since=r["failing_since"],
            next_attempt_at=r["next_attempt_at"],
            revision=r["revision"],
        )

    def signing(self, now: datetime) -> tuple[str, ...]:
        """The secrets that sign now: the current one, and the one rotated out while its overlap lasts."""
        if self.previous_secret and self.previous_secret_until and now < self.previous_secret_until:
            return (self.secret, self.previous_secret)
        return (self.secret,)


@dataclass(frozen=True)
class Message:
    """One message of one webhook: the same id and body on every attempt."""

    key: Key
    id: str
    type: str
    body: bytes


async def pending(pool: asyncpg.Pool, hook: Hook, limit: int) -> list[Message]:
    """Up to `limit` of the webhook's messages after its cursor, in key order."""
    where: list[str] = []
    args: list[Any] = [hook.cursor[0], hook.cursor[1], limit]
    for column, value in (("plan_id", hook.plan_id), ("measure_id", hook.measure_id)):
        if value is not None:
            args.append(value)
            where.append(f"{column} = ${len(args)}")
    if hook.partnership is not None:
        # Never another partnership's rows: a plan's partnership is fixed when it is created.
        args.append(hook.partnership)
        where.append(
            f"plan_id IN (SELECT id FROM plans WHERE lower(partnership) = lower(${len(args)}) AND valid_to IS NULL)"
        )
    parts = []
    actions = audit_actions(hook.kinds)
    if actions is None or actions:
        audit_where = list(where)
        if actions is not None:
            args.append(actions)
            audit_where.append(f"action = ANY(${len(args)}::text[])")
        parts.append(
            # An audit entry's key is (position, ''): after the cursor exactly when its position is.
            f"(SELECT {_AUDIT_COLUMNS} FROM audit_entries WHERE position >= $1 AND (position, '') > ($1, $2::text)"
            f" AND position <= {TRACKED}"
            f"{''.join(' AND ' + w for w in audit_where)} ORDER BY position LIMIT $3)"
        )
    if EventKind.STATUS_CHANGED in hook.kinds:
        parts.append(
            f"(SELECT {_STATUS_COLUMNS} FROM status_changes WHERE (position, quarter) > ($1, $2::text)"
            f" AND position <= {TRACKED}{''.join(' AND ' + w for w in where)} ORDER BY position, quarter LIMIT $3)"
        )
    if not parts:
        return []
    sql = f"SELECT * FROM ({' UNION ALL '.join(parts)}) AS messages ORDER BY position, sub LIMIT $3"
    return [_message(hook, row) for row in await pool.fetch(sql, *args)]


def _id(value: UUID | None) -> str | None:
    return None if value is None else str(value)


def _message(hook: Hook, r: asyncpg.Record) -> Message:
    key: Key = (r["position"], r["sub"])
    common = {
        "position": r["position"],
        "recordedAt": r["recorded_at"].isoformat(),
        "actor": r["actor"],
        "planId": _id(r["plan_id"]),
        "measureId": _id(r["measure_id"]),
        "measureNumber": r["measure_number"],
    }
    if key[1]:
        kind = EventKind.STATUS_CHANGED.type
        data = {
            "cursor": status_change_cursor(key),
            **common,
            "quarter": r["quarter"],
            "from": r["from_status"],
            "to": r["to_status"],
            "reason": r["reason"],
        }
    else:
        kind = audit_type(r["action"])
        data = {
            "cursor": ledger_event_cursor(key),
            **common,
            "action": r["action"],
            "component": r["component"],
            "quarter": r["quarter"],
            "field": r["field"],
            "before": r["before"],
            "after": r["after"],
            "reason": r["reason"],
            "changes": [{"field": f, "before": b, "after": a} for f, b, a in field_changes.loads(r["changes"])],
        }
    body = orjson.dumps({"type": kind, "timestamp": common["recordedAt"], "data": data})
    return Message(key, message_id(hook, key), kind, body)


def message_id(hook: Hook, key: Key) -> str:
    """The `webhook-id`: one message of one webhook, the same on every attempt and after any restart.

    A replay (`replays` > 0) sends the messages again under new ids, so that a receiver that
    deduplicates by id processes them again, which is what asking for a replay means.
    """
    parts = [f"msg_{hook.id.hex}_{key[0]}"]
    if key[1]:
        parts.append(key[1])
    if hook.replays:
        parts.append(f"r{hook.replays}")
    return "_".join(parts)
