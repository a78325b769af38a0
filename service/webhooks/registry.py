"""The registry: webhooks made, listed, paused, resumed, replayed, rotated and deleted by their admins.

Every change bumps the webhook's revision (a delivery under way then records nothing, see attempts.py)
and NOTIFYs the dispatcher, which reloads the webhook at once. Who may do what is decided by the
caller (the GraphQL layer, with service/auth/policy.py); `partnership` here only limits what is seen:
None sees every webhook.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

import asyncpg

from domain.ledger import Ledger
from service.webhooks.kinds import EventKind
from service.webhooks.outbox import LAST_QUARTER, Key
from service.webhooks.signing import new_secret
from service.webhooks.tables import CHANNEL

Row = asyncpg.Record
MAX_OVERLAP = timedelta(days=30)


@dataclass(frozen=True)
class NewWebhook:
    """A webhook to make, its URL already checked (service/webhooks/safety.py)."""

    url: str
    kinds: frozenset[EventKind]
    partnership: str | None
    created_by: str
    plan_id: UUID | None = None
    measure_id: UUID | None = None
    description: str | None = None


def _seen(partnership: str | None, start: int) -> tuple[str, list[object]]:
    """A condition limiting webhooks to one partnership's (none: every webhook), and its argument."""
    if partnership is None:
        return "true", []
    return f"lower(partnership) = lower(${start})", [partnership]


_NOTIFY = f"SELECT *, pg_notify('{CHANNEL}', id::text) FROM changed"


async def create(pool: asyncpg.Pool, new: NewWebhook, start_after: Key) -> tuple[Row, str]:
    """Make a webhook whose first message is the first after `start_after`; returns it and its secret."""
    secret = new_secret()
    row = await pool.fetchrow(
        """WITH changed AS (
            INSERT INTO webhooks (id, partnership, url, kinds, plan_id, measure_id, description, secret,
                                  cursor_position, cursor_quarter, created_by)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING *)
        """
        + _NOTIFY,
        uuid.uuid4(),
        new.partnership,
        new.url,
        sorted(k.name for k in new.kinds),
        new.plan_id,
        new.measure_id,
        new.description,
        secret,
        start_after[0],
        start_after[1],
        new.created_by,
    )
    assert row is not None
    return row, secret


async def listed(pool: asyncpg.Pool, partnership: str | None) -> list[Row]:
    """The webhooks a partnership's admin sees (None: every one), oldest first."""
    where, args = _seen(partnership, 1)
    return list(await pool.fetch(f"SELECT * FROM webhooks WHERE {where} ORDER BY created_at, id", *args))  # noqa: S608


async def get(pool: asyncpg.Pool, webhook_id: UUID) -> Row | None:
    row: Row | None = await pool.fetchrow("SELECT * FROM webhooks WHERE id = $1", webhook_id)
    return row


async def _change(pool: asyncpg.Pool, webhook_id: UUID, assignments: str, *args: object) -> Row | None:
    row: Row | None = await pool.fetchrow(
        f"WITH changed AS (UPDATE webhooks SET {assignments}, revision = revision + 1 WHERE id = $1 RETURNING *) "
        + _NOTIFY,
        webhook_id,
        *args,
    )
    return row


async def pause(pool: asyncpg.Pool, webhook_id: UUID, reason: str) -> Row | None:
    """Stop delivering; the cursor stays, so a resume sends everything since."""
    return await _change(pool, webhook_id, "paused_at = now(), paused_reason = $2", reason)


_CLEAR_FAILURES = "failures = 0, failing_since = NULL, next_attempt_at = NULL"


async def resume(pool: asyncpg.Pool, webhook_id: UUID) -> Row | None:
    """Deliver again, at once, from the cursor: nothing is skipped while paused."""
    return await _change(pool, webhook_id, f"paused_at = NULL, paused_reason = NULL, {_CLEAR_FAILURES}")


async def replay(pool: asyncpg.Pool, webhook_id: UUID, after: Key) -> Row | None:
    """Send every message after `after` again (new ids, see outbox.message_id), then carry on."""
    return await _change(
        pool,
        webhook_id,
        f"cursor_position = $2, cursor_quarter = $3, replays = replays + 1, {_CLEAR_FAILURES}",
        after[0],
        after[1],
    )


async def rotate(pool: asyncpg.Pool, webhook_id: UUID, overlap: timedelta) -> tuple[Row, str] | None:
    """A new secret signs from now on; the old one also signs until `overlap` has passed."""
    secret = new_secret()
    row = await _change(
        pool,
        webhook_id,
        "previous_secret = secret, previous_secret_until = now() + $3::interval, secret = $2",
        secret,
        overlap,
    )
    return None if row is None else (row, secret)


async def delete(pool: asyncpg.Pool, webhook_id: UUID) -> bool:
    """Delete a webhook and its delivery log."""
    row = await pool.fetchrow(
        f"WITH changed AS (DELETE FROM webhooks WHERE id = $1 RETURNING id) SELECT id, pg_notify('{CHANNEL}', id::text)"
        " FROM changed",
        webhook_id,
    )
    return row is not None


async def attempts(pool: asyncpg.Pool, webhook_id: UUID, first: int, before: int | None = None) -> list[Row]:
    """The delivery log, newest first: up to `first` attempts older than attempt id `before`."""
    return list(
        await pool.fetch(
            "SELECT * FROM webhook_attempts WHERE webhook_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
            webhook_id,
            before if before is not None else 2**63 - 1,
            first,
        )
    )


async def outbox_end(pool: asyncpg.Pool) -> Key:
    """Where a webhook made now starts: after every event recorded so far, projected or not."""
    position = await pool.fetchval(f"SELECT coalesce(max(notification_id), 0) FROM {Ledger.name}_events")
    return (int(position), LAST_QUARTER)


def kinds_of(names: Iterable[str]) -> list[EventKind]:
    return sorted((EventKind[n] for n in names), key=lambda k: list(EventKind).index(k))


def signing_until(row: Row) -> datetime | None:
    """Until when the rotated-out secret still signs; None when there is none."""
    value: datetime | None = row["previous_secret_until"] if row["previous_secret"] else None
    return value
