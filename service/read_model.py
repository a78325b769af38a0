"""Queries on the read model, through asyncpg. Each takes a batch of keys.

Every function here is one round trip, whatever the number of keys, so a
dashboard costs the same few queries for five measures or five hundred.
`at` is a ledger position for time travel; None reads the current rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from projections.read_model_tables import OWNER
from projections.runner import LEADER_HELD
from projections.stall import holders

Row = asyncpg.Record

ORDER = {
    "plans": "id",
    "themes": "plan_id, ordinal",
    "measures": "plan_id, sort_key",
    "components": "measure_id, ordinal",
    "baselines": "measure_id, component, seq",
    "figures": "measure_id, component, quarter",
    "quarter_results": "measure_id, quarter",
    "owners": "measure_id",
    "returns": "measure_id, quarter",
    "collections": "plan_id, quarter",
    "publications": "plan_id, valid_from, quarter",
}


def _select(table: str, column: str, at: int | None) -> str:
    """The rows of `table` whose `column` is any of $1: current, or as they were at position $2.

    At a past position the rows still current and the rows since ended are two selections, so that
    each is one probe of its own partial index (projections/read_model_tables.py). As one `valid_to IS NULL OR
    valid_to > $2` condition, the read walked every earlier version of a figure revised a thousand times.
    """
    where = f"SELECT * FROM {table} WHERE {column} = ANY($1::uuid[]) AND"
    if at is None:
        return f"{where} valid_to IS NULL"
    return f"{where} valid_to IS NULL AND valid_from <= $2 UNION ALL {where} valid_to > $2 AND valid_from <= $2"


async def rows(pool: asyncpg.Pool, table: str, keys: Sequence[UUID], at: int | None = None) -> list[Row]:
    """The rows of `table` owned by any of `keys`, as they were at position `at`."""
    args: list[Any] = [list(keys)] + ([at] if at is not None else [])
    return await pool.fetch(f"{_select(table, OWNER[table], at)} ORDER BY {ORDER[table]}", *args)


async def measures_by_id(pool: asyncpg.Pool, ids: Sequence[UUID], at: int | None = None) -> list[Row]:
    args: list[Any] = [list(ids)] + ([at] if at is not None else [])
    return await pool.fetch(_select("measures", "id", at), *args)


async def plans(pool: asyncpg.Pool, partnership: str | None) -> list[Row]:
    if partnership is None:
        return await pool.fetch(
            "SELECT * FROM plans WHERE valid_to IS NULL ORDER BY partnership, period_start DESC, title"
        )
    # Partnerships are compared ignoring case, as plan identities and the access policy compare them.
    return await pool.fetch(
        "SELECT * FROM plans WHERE lower(partnership) = lower($1) AND valid_to IS NULL"
        " ORDER BY period_start DESC, title",
        partnership,
    )


async def plans_created_after(pool: asyncpg.Pool, partnership: str | None, after: int, limit: int) -> list[Row]:
    """Up to `limit` current plans created after position `after`, oldest first, each with its `created_position`.

    A plan's creation position never changes and later plans only ever take higher ones, so pages keyed
    on it never repeat or skip a plan, whatever is renamed or created meanwhile.
    """
    args: list[Any] = [after, limit]
    only = ""
    if partnership is not None:
        args.append(partnership)
        only = " AND lower(p.partnership) = lower($3)"
    return await pool.fetch(
        "SELECT * FROM (SELECT p.*, (SELECT min(o.valid_from) FROM plans o WHERE o.id = p.id) AS created_position"
        f" FROM plans p WHERE p.valid_to IS NULL{only}) s"
        " WHERE created_position > $1 ORDER BY created_position LIMIT $2",
        *args,
    )


async def position_at(pool: asyncpg.Pool, moment: datetime) -> int:
    """The last position the ledger had recorded at a moment; 0 before anything."""
    value: Any = await pool.fetchval(
        "SELECT position FROM audit_entries WHERE known_at <= $1 ORDER BY known_at DESC, position DESC LIMIT 1",
        moment,
    )
    return int(value or 0)


async def known_at(pool: asyncpg.Pool, position: int) -> datetime | None:
    """When the ledger knew what it knew at a position: the recorded time of its last entry up to there."""
    value: datetime | None = await pool.fetchval(
        "SELECT known_at FROM audit_entries WHERE position <= $1 ORDER BY position DESC LIMIT 1", position
    )
    return value


async def history_by_measure(pool: asyncpg.Pool, measure_ids: Sequence[UUID], at: int | None = None) -> list[Row]:
    limit = "" if at is None else " AND position <= $2"
    args: list[Any] = [list(measure_ids)] + ([at] if at is not None else [])
    return await pool.fetch(
        f"SELECT * FROM audit_entries WHERE measure_id = ANY($1::uuid[]){limit} ORDER BY measure_id, position",  # noqa: S608
        *args,
    )


async def projected_position(pool: asyncpg.Pool, application_name: str) -> int:
    value: Any = await pool.fetchval(
        "SELECT notification_id FROM current_state_tracking WHERE application_name = $1", application_name
    )
    return int(value or 0)


async def positions(pool: asyncpg.Pool, application_name: str, events_table: str) -> tuple[int, int, bool]:
    """How far the read model has projected, how far the event store has recorded, and whether some
    process holds the projection leader's lock: what /health reports."""
    row = await pool.fetchrow(
        "SELECT (SELECT notification_id FROM current_state_tracking WHERE application_name = $1),"
        f" (SELECT max(notification_id) FROM {events_table}), {LEADER_HELD}",  # noqa: S608 - our own names
        application_name,
    )
    assert row is not None
    return int(row[0] or 0), int(row[1] or 0), bool(row[2])


async def lock_held(pool: asyncpg.Pool, key: int) -> bool:
    """Whether some session holds a leader's advisory lock (read from pg_locks, without trying it)."""
    return bool(await pool.fetchval(f"SELECT EXISTS (SELECT {holders(key)})"))


async def oldest_unprojected_age(pool: asyncpg.Pool, events_table: str, position: int) -> float | None:
    """Seconds since the first event after `position` was recorded, from the time the event itself carries
    (eventsourcing keeps it in the stored JSON); None if there is none, or its state is not plain JSON."""
    try:
        value: Any = await pool.fetchval(
            "SELECT extract(epoch FROM now()"
            " - (convert_from(state, 'UTF8')::jsonb #>> '{timestamp,_data_}')::timestamptz)"
            f" FROM {events_table} WHERE notification_id > $1 ORDER BY notification_id LIMIT 1",  # noqa: S608
            position,
        )
    except (asyncpg.PostgresError, ValueError):
        return None
    return None if value is None else max(0.0, float(value))


async def event_position(pool: asyncpg.Pool, originator_id: UUID, version: int) -> int | None:
    """Where an aggregate's event sits in the log: for answering an idempotent retry."""
    value: Any = await pool.fetchval(
        "SELECT notification_id FROM ledger_events WHERE originator_id = $1 AND originator_version = $2",
        originator_id,
        version,
    )
    return int(value) if value is not None else None
