"""The reference the service's reads are compared with: plain Starlette routes, asyncpg, hand-built JSON.

    DATABASE_URL=... uvicorn bench.reference_app:create_app --factory --port N

`/dashboard/{plan_id}` reads the same current rows as the dashboard query (bench/latency.py DASHBOARD)
and returns the same fields; `/measure/{measure_id}` one measure with its history. No GraphQL, no
authentication, no dataloaders: the floor a GraphQL service could approach.

`/dashboard-sql/{plan_id}` answers the dashboard from one statement that builds its JSON inside PostgreSQL
(`json_agg`/`json_build_object` over the same tables), formatted as the GraphQL service formats it, so its
`data` is equal to the service's: the fastest plain way to serve those rows, and the anchor for reads.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from uuid import UUID

import asyncpg
from asyncpg import Record as Row
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from service.pools import asyncpg_args
from service.speedups.compiled_reads import decimal_text, moment_text

CURRENT = "valid_to IS NULL"
HISTORY_FIELDS = ("position", "recorded_at", "actor", "action", "component", "quarter", "field", "before", "after")


def _default(value: object) -> str:
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)


def _respond(data: object) -> Response:
    return Response(json.dumps({"data": data}, default=_default), media_type="application/json")


def _round1(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


# The columns of each object the dashboard returns, in its order, each under the API's name of it (`_api_name`).
MEASURE_COLUMNS = ("id", "number", "title", "direction", "basis", "tolerance", "unit", "status", "version")
AMOUNT_COLUMNS = ("value", "numerator", "denominator")
BASELINE_COLUMNS = (*AMOUNT_COLUMNS, "period", "note", "is_reset")
FIGURE_COLUMNS = (
    "quarter",
    *AMOUNT_COLUMNS,
    "available",
    "unavailable_reason",
    "comparison_value",
    "change",
    "reported_change",
    "discrepancy",
    "status",
    "commentary",
    "revision",
    "recorded_at",
    "recorded_by",
)
QUARTER_FIGURE_COLUMNS = ("value", "change", "status")
DECIMAL_COLUMNS = frozenset({*AMOUNT_COLUMNS, "comparison_value", "reported_change", "tolerance"})


def _api_name(column: str) -> str:
    """`unavailable_reason` as the API names it: `unavailableReason`."""
    first, *rest = column.split("_")
    return first + "".join(word.title() for word in rest)


def _fields(r: Row, columns: tuple[str, ...]) -> dict[str, Any]:
    """The row's `columns` under their API names; a change rounded to one place, as the API gives it."""
    return {_api_name(c): _round1(r[c]) if c == "change" else r[c] for c in columns}


def _current(columns: str, table: str, where: str, order: str = "") -> str:
    """A SELECT of `columns` of the current rows of `table` that `where` matches, in `order`."""
    query = f"SELECT {columns} FROM {table} WHERE {where} AND {CURRENT}"  # noqa: S608
    return f"{query} ORDER BY {order}" if order else query


async def _fetch(
    conn: asyncpg.Connection, table: str, owner: str, keys: list[UUID], order: str
) -> dict[UUID, list[Row]]:
    found: dict[UUID, list[Row]] = defaultdict(list)
    for r in await conn.fetch(_current("*", table, f"{owner} = ANY($1::uuid[])", order), keys):
        found[r[owner]].append(r)
    return found


async def measures_json(conn: asyncpg.Connection, measures: list[Row]) -> list[dict[str, Any]]:
    ids = [m["id"] for m in measures]
    components = await _fetch(conn, "components", "measure_id", ids, "measure_id, ordinal")
    baselines = await _fetch(conn, "baselines", "measure_id", ids, "measure_id, component, seq")
    figures = await _fetch(conn, "figures", "measure_id", ids, "measure_id, component, quarter")
    quarters = await _fetch(conn, "quarter_results", "measure_id", ids, "measure_id, quarter")
    out = []
    for m in measures:
        base = {b["component"]: b for b in baselines[m["id"]]}
        by_key: dict[str, list[Row]] = defaultdict(list)
        for f in figures[m["id"]]:
            by_key[f["component"]].append(f)
        out.append(
            {
                **_fields(m, MEASURE_COLUMNS),
                "components": [
                    {
                        "key": c["key"],
                        "label": c["label"],
                        "baseline": _fields(base[c["key"]], BASELINE_COLUMNS) if c["key"] in base else None,
                        "figures": [_fields(f, FIGURE_COLUMNS) for f in by_key[c["key"]]],
                    }
                    for c in components[m["id"]]
                ],
                "quarters": [
                    {
                        "quarter": q["quarter"],
                        "status": q["status"],
                        "computedStatus": q["computed_status"],
                        "override": None
                        if q["override_status"] is None
                        else {"status": q["override_status"], "reason": q["override_reason"]},
                        "commentary": q["commentary"],
                        "components": [
                            {"key": c["key"], "figure": _quarter_figure(by_key[c["key"]], q["quarter"])}
                            for c in components[m["id"]]
                        ],
                    }
                    for q in quarters[m["id"]]
                ],
            }
        )
    return out


def _quarter_figure(figures: list[Row], quarter: str) -> dict[str, Any] | None:
    f = next((f for f in figures if f["quarter"] == quarter), None)
    return None if f is None else _fields(f, QUARTER_FIGURE_COLUMNS)


# -- the dashboard built inside PostgreSQL -------------------------------------------------------------------------
# Each value formatted as the service's scalars format it (service/schema/scalars.py): a Decimal as plain digits
# with no trailing zeros, a change rounded half-up to one place, a moment in UTC with microseconds only where not zero
# (the SQL for the last two is the service's own, from its compiled reads).


def _object(**fields: str) -> str:
    return "json_build_object(" + ", ".join(f"'{name}', {value}" for name, value in fields.items()) + ")"


def _list(value: str, rows: str, order: str) -> str:
    """A JSON array of `value` over `rows` (a FROM ... WHERE ...), `[]` when there are none."""
    return f"(SELECT coalesce(json_agg({value} ORDER BY {order}), '[]') FROM {rows})"


def _sql_fields(alias: str, columns: tuple[str, ...]) -> dict[str, str]:
    """`_fields` inside PostgreSQL: the columns of `alias`, each formatted as the API formats it."""

    def formatted(column: str) -> str:
        if column == "change":
            return decimal_text(f"round({alias}.change, 1)")
        if column in DECIMAL_COLUMNS:
            return decimal_text(f"{alias}.{column}")
        if column == "recorded_at":
            return moment_text(f"{alias}.{column}")
        return f"{alias}.{column}"

    return {_api_name(c): formatted(c) for c in columns}


_FIGURE = _object(**_sql_fields("f", FIGURE_COLUMNS))
_BASELINE = _object(**_sql_fields("b", BASELINE_COLUMNS))


def _of_component(alias: str) -> str:
    """`alias`'s current rows of component c."""
    return f"{alias}.measure_id = c.measure_id AND {alias}.component = c.key AND {alias}.{CURRENT}"


_COMPONENT = _object(
    key="c.key",
    label="c.label",
    baseline=f"(SELECT {_BASELINE} FROM baselines b WHERE {_of_component('b')} ORDER BY b.seq DESC LIMIT 1)",
    figures=_list(_FIGURE, f"figures f WHERE {_of_component('f')}", "f.quarter"),
)
_QUARTER_FIGURE = _object(**_sql_fields("f", QUARTER_FIGURE_COLUMNS))
_QUARTER = _object(
    quarter="q.quarter",
    status="q.status",
    computedStatus="q.computed_status",
    override="CASE WHEN q.override_status IS NULL THEN NULL ELSE "
    + _object(status="q.override_status", reason="q.override_reason")
    + " END",
    commentary="q.commentary",
    components=_list(
        _object(
            key="c.key",
            figure=f"(SELECT {_QUARTER_FIGURE} FROM figures f WHERE {_of_component('f')} AND f.quarter = q.quarter)",
        ),
        f"components c WHERE c.measure_id = q.measure_id AND c.{CURRENT}",
        "c.ordinal",
    ),
)
_MEASURE = _object(
    **_sql_fields("m", MEASURE_COLUMNS),
    components=_list(_COMPONENT, f"components c WHERE c.measure_id = m.id AND c.{CURRENT}", "c.ordinal"),
    quarters=_list(_QUARTER, f"quarter_results q WHERE q.measure_id = m.id AND q.{CURRENT}", "q.quarter"),
)
_PLAN = _object(
    id="p.id",
    title="p.title",
    themes=_list(
        _object(code="t.code", title="t.title"), f"themes t WHERE t.plan_id = p.id AND t.{CURRENT}", "t.ordinal"
    ),
    measures=_list(_MEASURE, f"measures m WHERE m.plan_id = p.id AND m.{CURRENT}", "m.sort_key"),
)
# One statement, one round trip, one text value: the response's body as it goes out.
DASHBOARD_SQL = (
    f"SELECT json_build_object('data', json_build_object('plan', (SELECT {_PLAN} FROM plans p"  # noqa: S608
    f" WHERE p.id = $1 AND p.{CURRENT})))::text"
)


def create_app() -> Starlette:
    pool: asyncpg.Pool | None = None

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        nonlocal pool
        pool = await asyncpg.create_pool(**asyncpg_args(os.environ["DATABASE_URL"]), min_size=2, max_size=10)
        try:
            yield
        finally:
            await pool.close()

    async def dashboard(request: Request) -> Response:
        assert pool is not None
        plan_id = UUID(request.path_params["plan_id"])
        async with pool.acquire() as conn:
            plan = await conn.fetchrow(_current("id, title", "plans", "id = $1"), plan_id)
            themes = await conn.fetch(_current("code, title", "themes", "plan_id = $1", "ordinal"), plan_id)
            measures = await conn.fetch(_current("*", "measures", "plan_id = $1", "sort_key"), plan_id)
            body = None
            if plan is not None:
                body = {
                    "id": plan["id"],
                    "title": plan["title"],
                    "themes": [dict(t) for t in themes],
                    "measures": await measures_json(conn, list(measures)),
                }
        return _respond({"plan": body})

    async def dashboard_sql(request: Request) -> Response:
        assert pool is not None
        body = await pool.fetchval(DASHBOARD_SQL, UUID(request.path_params["plan_id"]))
        return Response(body, media_type="application/json")

    async def measure(request: Request) -> Response:
        assert pool is not None
        measure_id = UUID(request.path_params["measure_id"])
        async with pool.acquire() as conn:
            rows = await conn.fetch(_current("*", "measures", "id = $1"), measure_id)
            history = await conn.fetch(
                "SELECT * FROM audit_entries WHERE measure_id = $1 ORDER BY position", measure_id
            )
            found = (await measures_json(conn, list(rows)))[0] if rows else None
        if found is not None:
            found["history"] = [{k: h[k] for k in (*HISTORY_FIELDS, "reason")} for h in history]
        return _respond({"measure": found})

    return Starlette(
        routes=[
            Route("/dashboard/{plan_id}", dashboard),
            Route("/dashboard-sql/{plan_id}", dashboard_sql),
            Route("/measure/{measure_id}", measure),
        ],
        lifespan=lifespan,
    )
