"""The auditor's export: the audit trail as CSV or JSON Lines, streamed.

Over HTTP (`GET /audit/export`, bearer token) rows come through an asyncpg
cursor and leave as a chunked response a batch at a time; on the command line
(`measure-ledger audit-export`) through a psycopg server-side cursor. Either
way a million entries never sit in memory at once. The filters are the
auditTrail query's, by the same names.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import replace
from datetime import UTC
from typing import Any, TextIO

import psycopg
from psycopg.rows import dict_row
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from domain.errors import DomainError
from service import audit_read
from service.downloads import permitted, refuse
from service.schema.context import Services

FORMATS = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}
# The columns, named as the GraphQL AuditEntry names its fields.
HEADER = [
    "".join(part.title() if i else part for i, part in enumerate(column.split("_"))) for column in audit_read.COLUMNS
]
BATCH = 1000
FILTERS = ("planId", "measureId", "actor", "action", "recordedFrom", "recordedTo", "order")


def record(row: Mapping[str, Any]) -> list[Any]:
    """One entry's values in HEADER order: text, UTC times in ISO 8601, ids as text."""
    values: list[Any] = []
    for column in audit_read.COLUMNS:
        value = row[column]
        if column == "recorded_at":
            value = value.astimezone(UTC).isoformat()
        elif column in ("plan_id", "measure_id") and value is not None:
            value = str(value)
        values.append(value)
    return values


def render(rows: Iterable[Mapping[str, Any]], fmt: str, *, header: bool = False) -> str:
    """A chunk of the export: rows as CSV lines (after the header, if asked) or JSON lines."""
    if fmt == "jsonl":
        return "".join(json.dumps(dict(zip(HEADER, record(r), strict=True)), ensure_ascii=False) + "\n" for r in rows)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if header:
        writer.writerow(HEADER)
    writer.writerows(record(r) for r in rows)
    return out.getvalue()


def selection_of(params: Mapping[str, str]) -> audit_read.Selection:
    """The filters of a query string or command line, by the auditTrail filter's names."""
    return audit_read.selection(
        plan_id=params.get("planId"),
        measure_id=params.get("measureId"),
        actor=params.get("actor") or None,
        action=params.get("action") or None,
        recorded_from=params.get("recordedFrom"),
        recorded_to=params.get("recordedTo"),
        order=params.get("order") or None,
    )


async def http_export(services: Services, request: Request) -> Response:
    """GET /audit/export?format=csv|jsonl&actor=...&planId=...: the audit trail, streamed, with a bearer token."""
    fmt = request.query_params.get("format", "csv")
    try:
        chosen = selection_of(request.query_params)
    except DomainError as e:
        chosen = None
        invalid = refuse(400, e.code, str(e))
    allowed = await permitted(
        services, request, "export the audit trail", chosen and chosen.plan_id, chosen and chosen.measure_id
    )
    if isinstance(allowed, Response):
        return allowed
    if chosen is None:
        return invalid
    if fmt not in FORMATS:
        return refuse(400, "VALIDATION", f"format: must be csv or jsonl, not {fmt[:20]!r}")
    if allowed.partnership is not None:
        chosen = replace(chosen, partnership=allowed.partnership)

    async def body() -> AsyncIterator[str]:
        if fmt == "csv":
            yield render((), fmt, header=True)
        async for rows in audit_read.stream(services.pool, chosen, BATCH):
            yield render(rows, fmt)

    filename = f"audit-trail.{fmt}"
    return StreamingResponse(
        body(), media_type=FORMATS[fmt], headers={"content-disposition": f'attachment; filename="{filename}"'}
    )


def export_to(conninfo: str, chosen: audit_read.Selection, fmt: str, out: TextIO) -> int:
    """Write the selected entries to `out` through a server-side cursor; returns how many."""
    sql, args = chosen.query(lambda _n: "%s")
    count = 0
    with psycopg.connect(conninfo, row_factory=dict_row) as conn:
        conn.read_only = True
        with conn.cursor(name="audit_export") as cursor:
            cursor.itersize = BATCH
            cursor.execute(sql, args)
            if fmt == "csv":
                out.write(render((), fmt, header=True))
            while rows := cursor.fetchmany(BATCH):
                out.write(render(rows, fmt))
                count += len(rows)
        conn.rollback()
    return count
