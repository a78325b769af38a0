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

from projections.tables import OWNER

Row = asyncpg.Record

ORDER = {
    "plans": "id",
    "themes": "plan_id, ordinal",
    "measures": "plan_id, sort_key",
    "components": "measure_id, ordinal",
    "baselines": "measure_id, component, seq",
    "figures": "measure_id, component, quarter",
    "quarter_results": "measure_id, quarter",
}


def _valid(at: int | None, first_arg: int) -> str:
    if at is None:
        return "valid_to IS NULL"
    return f"valid_from <= ${first_arg} AND (valid_to IS NULL OR valid_to > ${first_arg})"


async def rows(pool: asyncpg.Pool, table: str, keys: Sequence[UUID], at: int | None = None) -> list[Row]:
    """The rows of `table` owned by any of `keys`, as they were at position `at`."""
    owner = OWNER[table]
    args: list[Any] = [list(keys)] + ([at] if at is not None else [])
    return await pool.fetch(
        f"SELECT * FROM {table} WHERE {owner} = ANY($1::uuid[]) AND {_valid(at, 2)} ORDER BY {ORDER[table]}",  # noqa: S608
        *args,
    )


async def measures_by_id(pool: asyncpg.Pool, ids: Sequence[UUID], at: int | None = None) -> list[Row]:
    args: list[Any] = [list(ids)] + ([at] if at is not None else [])
    return await pool.fetch(f"SELECT * FROM measures WHERE id = ANY($1::uuid[]) AND {_valid(at, 2)}", *args)  # noqa: S608


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


async def position_at(pool: asyncpg.Pool, moment: datetime) -> int:
    """The last position the ledger had recorded at a moment; 0 before anything."""
    value: Any = await pool.fetchval(
        "SELECT position FROM audit_entries WHERE known_at <= $1 ORDER BY known_at DESC, position DESC LIMIT 1",
        moment,
    )
    return int(value or 0)


async def history_by_measure(pool: asyncpg.Pool, measure_ids: Sequence[UUID], at: int | None = None) -> list[Row]:
    limit = "" if at is None else " AND position <= $2"
    args: list[Any] = [list(measure_ids)] + ([at] if at is not None else [])
    return await pool.fetch(
        f"SELECT * FROM audit_entries WHERE measure_id = ANY($1::uuid[]){limit} ORDER BY measure_id, position",  # noqa: S608
        *args,
    )


async def view_position(pool: asyncpg.Pool, application_name: str) -> int:
    value: Any = await pool.fetchval(
        "SELECT notification_id FROM current_state_tracking WHERE application_name = $1", application_name
    )
    return int(value or 0)


async def event_position(pool: asyncpg.Pool, originator_id: UUID, version: int) -> int | None:
    """Where an aggregate's event sits in the log: for answering an idempotent retry."""
    value: Any = await pool.fetchval(
        "SELECT notification_id FROM ledger_events WHERE originator_id = $1 AND originator_version = $2",
        originator_id,
        version,
    )
    return int(value) if value is not None else None
