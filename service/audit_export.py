"""The auditor's export: the audit trail as CSV or JSON Lines, a batch of rows at a time.

Over HTTP (`GET /audit/export`, service/downloads.py) rows come through an
asyncpg cursor and leave as a chunked response; on the command line
(`measure-ledger audit-export`, `export_to`) through a psycopg server-side
cursor. Either way a million entries never sit in memory at once. The filters
are the auditTrail query's, by the same names.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from datetime import UTC
from typing import Any, TextIO

import psycopg
from psycopg.rows import dict_row
from psycopg.types.string import TextLoader

from projections import field_changes
from service import audit_trail

FORMATS = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}
# The columns, named as the GraphQL AuditEntry names its fields.
HEADER = [
    *(
        "".join(part.title() if i else part for i, part in enumerate(column.split("_")))
        for column in audit_trail.COLUMNS
    ),
    "changes",
]
BATCH = 1000
FILTERS = ("planId", "measureId", "actor", "action", "component", "quarter", "recordedFrom", "recordedTo", "order")


def record(row: Mapping[str, Any]) -> list[Any]:
    """One entry's values in HEADER order: text, UTC times in ISO 8601, ids as text."""
    values: list[Any] = []
    for column in audit_trail.COLUMNS:
        value = row[column]
        if column == "recorded_at":
            value = value.astimezone(UTC).isoformat()
        elif column in ("plan_id", "measure_id") and value is not None:
            value = str(value)
        values.append(value)
    values.append(list(_changes(row)))
    return values


def _changes(row: Mapping[str, Any]) -> Iterable[dict[str, str | None]]:
    """Each field the entry's event changed, as AuditEntry.changes shows it."""
    for field, before, after in field_changes.loads(row["changes"]):
        yield {"field": field, "before": before, "after": after}


def _changes_text(changes: list[dict[str, str | None]]) -> str:
    """A CSV cell: `reportedChange: -20 -> -19.5; commentary: (none) -> checked`."""
    return "; ".join(f"{c['field']}: {_or_none(c['before'])} -> {_or_none(c['after'])}" for c in changes)


def _or_none(value: str | None) -> str:
    return "(none)" if value is None else value


def render(rows: Iterable[Mapping[str, Any]], fmt: str, *, header: bool = False) -> str:
    """A chunk of the export: rows as CSV lines (after the header, if asked) or JSON lines."""
    if fmt == "jsonl":
        return "".join(json.dumps(dict(zip(HEADER, record(r), strict=True)), ensure_ascii=False) + "\n" for r in rows)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if header:
        writer.writerow(HEADER)
    writer.writerows([*values[:-1], _changes_text(values[-1])] for values in map(record, rows))
    return out.getvalue()


def selection_of(params: Mapping[str, str]) -> audit_trail.Selection:
    """The filters of a query string or command line, by the auditTrail filter's names."""
    return audit_trail.selection(
        plan_id=params.get("planId"),
        measure_id=params.get("measureId"),
        actor=params.get("actor") or None,
        action=params.get("action") or None,
        component=params.get("component") or None,
        quarter=params.get("quarter") or None,
        recorded_from=params.get("recordedFrom"),
        recorded_to=params.get("recordedTo"),
        order=params.get("order") or None,
    )


def export_to(conninfo: str, chosen: audit_trail.Selection, fmt: str, out: TextIO) -> int:
    """Write the selected entries to `out` through a server-side cursor; returns how many."""
    sql, args = chosen.query(lambda _n: "%s")
    count = 0
    with psycopg.connect(conninfo, row_factory=dict_row) as conn:
        # The changes column as text, as asyncpg reads it for the HTTP export.
        conn.adapters.register_loader("json", TextLoader)
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
