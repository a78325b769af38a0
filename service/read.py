"""Queries on the read model, through asyncpg. Each takes a batch of keys.

Every function here is one round trip, whatever the number of keys, so a
dashboard costs the same few queries for five measures or five hundred.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import asyncpg

Row = asyncpg.Record


async def plans(pool: asyncpg.Pool, partnership: str | None) -> list[Row]:
    if partnership is None:
        return await pool.fetch("SELECT * FROM plans ORDER BY partnership, period_start DESC, title")
    return await pool.fetch("SELECT * FROM plans WHERE partnership = $1 ORDER BY period_start DESC, title", partnership)


async def plans_by_id(pool: asyncpg.Pool, ids: Sequence[UUID]) -> list[Row]:
    return await pool.fetch("SELECT * FROM plans WHERE id = ANY($1::uuid[])", list(ids))


async def themes_by_plan(pool: asyncpg.Pool, plan_ids: Sequence[UUID]) -> list[Row]:
    return await pool.fetch(
        "SELECT * FROM themes WHERE plan_id = ANY($1::uuid[]) ORDER BY plan_id, ordinal", list(plan_ids)
    )


async def measures_by_plan(pool: asyncpg.Pool, plan_ids: Sequence[UUID]) -> list[Row]:
    return await pool.fetch(
        "SELECT * FROM measures WHERE plan_id = ANY($1::uuid[]) ORDER BY plan_id, sort_key", list(plan_ids)
    )


async def measures_by_id(pool: asyncpg.Pool, ids: Sequence[UUID]) -> list[Row]:
    return await pool.fetch("SELECT * FROM measures WHERE id = ANY($1::uuid[])", list(ids))


async def by_measure(pool: asyncpg.Pool, table: str, measure_ids: Sequence[UUID]) -> list[Row]:
    """Components, baselines, figures or quarter results of many measures."""
    order = {
        "components": "ordinal",
        "baselines": "component, seq",
        "figures": "component, quarter",
        "quarter_results": "quarter",
    }[table]
    return await pool.fetch(
        f"SELECT * FROM {table} WHERE measure_id = ANY($1::uuid[]) ORDER BY measure_id, {order}",  # noqa: S608
        list(measure_ids),
    )


async def history_by_measure(pool: asyncpg.Pool, measure_ids: Sequence[UUID]) -> list[Row]:
    return await pool.fetch(
        "SELECT * FROM audit_entries WHERE measure_id = ANY($1::uuid[]) ORDER BY measure_id, position",
        list(measure_ids),
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
