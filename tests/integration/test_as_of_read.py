"""A read at a past position returns exactly the rows that were true then, at every position.

The read model's rows carry [valid_from, valid_to); `service.read_model` selects the current and the
ended rows apart so that each is an index probe. Here a measure is revised many times, rebased,
overridden and redefined without one of its components (rows that end with no successor), and at
every position of the ledger every table read is compared with the plain definition, computed in
Python over all of the table's rows.
"""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

import asyncpg
import psycopg
from psycopg.rows import dict_row

from domain.commands import OverrideStatus, RedefineMeasure, ResetBaseline, ReviseFigure, SetBaseline, SubmitFigure
from domain.ledger import Ledger
from domain.values import Quarter, Status, parse_amount
from projections.read_model_tables import KEYS, OWNER
from projections.runner import catch_up_if_leader
from service import read_model
from service.pools import asyncpg_args
from tests.integration.given import OFFICER, a_definition, a_measure, a_plan


def a_busy_measure(ledger: Ledger, plan_id: UUID) -> UUID:
    mid = a_measure(ledger, plan_id, "5.2", components=(("total", "Total"), ("youth", "Youth")))
    ledger.handle(SetBaseline(mid, "youth", parse_amount("300", None, None)), OFFICER)
    ledger.handle(SubmitFigure(mid, "total", Quarter.Q1, parse_amount("600", None, None)), OFFICER)
    ledger.handle(SubmitFigure(mid, "youth", Quarter.Q1, parse_amount("80", None, None)), OFFICER)
    for n in range(30):
        ledger.handle(
            ReviseFigure(mid, "total", Quarter.Q1, parse_amount(str(560 + 7 * n), None, None), reason="late"), OFFICER
        )
    ledger.handle(ResetBaseline(mid, "total", parse_amount("2000", None, None), reason="new method"), OFFICER)
    ledger.handle(OverrideStatus(mid, Quarter.Q1, Status.AT_RISK, reason="known local issue"), OFFICER)
    ledger.handle(RedefineMeasure(mid, a_definition("5.2"), reason="youth is reported elsewhere now"), OFFICER)
    ledger.handle(ReviseFigure(mid, "total", Quarter.Q1, parse_amount("590", None, None), reason="audited"), OFFICER)
    return mid


def true_at(rows: list[dict[str, Any]], position: int) -> list[dict[str, Any]]:
    return [r for r in rows if r["valid_from"] <= position and (r["valid_to"] is None or r["valid_to"] > position)]


def by_key(table: str, rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return sorted((tuple(r[k] for k in KEYS[table]), r["valid_from"]) for r in rows)


def test_a_read_at_any_position_returns_the_rows_true_then(
    ledger: Ledger, es_env: dict[str, str], database_url: str
) -> None:
    plan_id = a_plan(ledger)
    quiet = a_measure(ledger, plan_id, "5.1")
    busy = a_busy_measure(ledger, plan_id)
    catch_up_if_leader(es_env)
    with psycopg.connect(database_url, row_factory=dict_row) as conn:
        every = {table: conn.execute(f"SELECT * FROM {table}").fetchall() for table in KEYS}  # noqa: S608
        last = conn.execute("SELECT max(position) AS position FROM audit_entries").fetchone()
    assert last is not None and sum(r["measure_id"] == busy for r in every["figures"]) > 30

    async def compare() -> None:
        pool = await asyncpg.create_pool(**asyncpg_args(database_url), min_size=1, max_size=2)
        try:
            for position in range(last["position"] + 2):
                for table in KEYS:
                    keys = [plan_id] if OWNER[table] in ("plan_id", "id") else [quiet, busy]
                    owned = [r for r in every[table] if r[OWNER[table]] in keys]
                    found = [dict(r) for r in await read_model.rows(pool, table, keys, position)]
                    assert by_key(table, found) == by_key(table, true_at(owned, position)), (table, position)
                found = [dict(r) for r in await read_model.measures_by_id(pool, [quiet, busy], position)]
                expected = true_at([r for r in every["measures"] if r["id"] in (quiet, busy)], position)
                assert by_key("measures", found) == by_key("measures", expected), ("measures by id", position)
        finally:
            await pool.close()

    asyncio.run(compare())
