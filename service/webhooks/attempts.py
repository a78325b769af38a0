"""Recording an attempt: the webhook's state and the delivery log's row, in one statement.

Each write is fenced twice: by the dispatcher's epoch, so a leader that has been replaced (and might
not know it yet) changes nothing, and by the webhook's revision, so a pause, a resume, a replay or a
rotation made meanwhile by its admin is never undone by a delivery that was already under way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

from service.webhooks.outbox import Hook, Message
from service.webhooks.sender import Outcome


@dataclass(frozen=True)
class Fence:
    """What a write must still find: the leader's epoch and the webhook's revision it loaded."""

    epoch: int
    revision: int


_LOG = """INSERT INTO webhook_attempts
    (webhook_id, message_id, type, position, quarter, attempt, attempted_at, seconds, status_code, error, delivered)
    SELECT id, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14 FROM moved RETURNING true"""

_DELIVERED = (
    """WITH moved AS (
    UPDATE webhooks SET cursor_position = $7, cursor_quarter = $8, failures = 0, failing_since = NULL,
        next_attempt_at = NULL, last_delivered_at = $10
    WHERE id = $1 AND revision = $2 AND (SELECT epoch FROM webhook_dispatch) = $3 AND $4::bool
    RETURNING id)
"""
    + _LOG
)

_FAILED = (
    """WITH moved AS (
    UPDATE webhooks SET failures = $9, failing_since = $15, next_attempt_at = $16, last_error = $13,
        last_error_at = $10, paused_reason = $17,
        paused_at = CASE WHEN $17::text IS NULL THEN NULL ELSE $10::timestamptz END
    WHERE id = $1 AND revision = $2 AND (SELECT epoch FROM webhook_dispatch) = $3 AND NOT $4::bool
    RETURNING id)
"""
    + _LOG
)


async def record(
    pool: asyncpg.Pool,
    before: Hook,
    after: Hook,
    fence: Fence,
    message: Message,
    attempted_at: datetime,
    outcome: Outcome,
) -> bool:
    """Record an attempt that took the webhook from `before` to `after`: a delivery moves the cursor past
    `message`, a failure schedules the next try (or pauses the webhook). False if the fence stopped it:
    then nothing was written."""
    args: list[object] = [
        before.id,
        fence.revision,
        fence.epoch,
        outcome.delivered,
        message.id,
        message.type,
        message.key[0],
        message.key[1],
        before.failures + 1,
        attempted_at,
        outcome.seconds,
        outcome.status,
        outcome.error,
        outcome.delivered,
    ]
    if outcome.delivered:
        return bool(await pool.fetchval(_DELIVERED, *args))
    failed = (after.failing_since, after.next_attempt_at, after.paused_reason if after.paused else None)
    return bool(await pool.fetchval(_FAILED, *args, *failed))


async def load(pool: asyncpg.Pool, webhook_id: UUID) -> Hook | None:
    row = await pool.fetchrow("SELECT * FROM webhooks WHERE id = $1", webhook_id)
    return None if row is None else Hook.from_row(row)
