"""An audit entry's changed fields read back as the projection wrote them, whichever way it wrote them:
binary COPY (a rebuild's or a catch-up's batches) or INSERTs (the live projection's), and whichever reader
reads them: the GraphQL AuditEntry, the export (over asyncpg and over psycopg) and the webhooks' messages."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import asyncpg
import psycopg
from psycopg.rows import dict_row

from domain.revisions import FieldChange
from projections import field_changes
from projections.read_model_tables import DDL
from projections.row_changes import RowChanges
from service import audit_export, audit_trail
from service.pools import asyncpg_args
from service.schema.audit.types import AuditEntry

CHANGES: list[tuple[FieldChange, ...]] = [
    (),
    (FieldChange("value", None, "1683"), FieldChange("availability", None, "available")),
    (FieldChange("reportedChange", "-20", "-19.5"), FieldChange("commentary", None, 'a "quoted", é ü 😀\n\\ line')),
    (FieldChange("availability", "available", "unavailable: system down"), FieldChange("value", "492", None)),
]


def _entry(position: int, changes: tuple[FieldChange, ...]) -> dict[str, Any]:
    now = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
    return {
        "action": "FigureRevised" if changes else "PlanCreated",
        "plan_id": uuid4(),
        "measure_id": None,
        "measure_number": None,
        "component": None,
        "quarter": None,
        "field": "figure",
        "before": None,
        "after": None,
        "reason": None,
        "position": position,
        "known_at": now,
        "recorded_at": now,
        "actor": "officer@example.org",
        "changes": changes or None,
    }


def _written(database_url: str) -> list[tuple[FieldChange, ...]]:
    """The CHANGES, each written once by COPY and once by INSERT, in position order."""
    copied, inserted = RowChanges(), RowChanges()
    copied.add("audit_entries", [_entry(n + 1, c) for n, c in enumerate(CHANGES)])
    inserted.add("audit_entries", [_entry(len(CHANGES) + n + 1, c) for n, c in enumerate(CHANGES)])
    with psycopg.connect(database_url, row_factory=dict_row) as conn:
        for statement in DDL:
            conn.execute(statement)
        with conn.cursor() as curs:
            copied.write(curs)
            inserted.insert(curs)
    return CHANGES + CHANGES


def _as_api(changes: tuple[FieldChange, ...]) -> list[dict[str, str | None]]:
    return [{"field": f, "before": b, "after": a} for f, b, a in changes]


async def test_every_reader_reads_the_changes_as_written(database_url: str) -> None:
    written = _written(database_url)
    pool = await asyncpg.create_pool(**asyncpg_args(database_url), min_size=1, max_size=1)
    try:
        rows, _ = await audit_trail.page(pool, audit_trail.Selection(), None, 100)
        served = [[c.__dict__ for c in AuditEntry.from_row(r).changes()] for r in rows]
        exported = [audit_export.record(r)[-1] for r in rows]
        stored = await pool.fetch("SELECT changes::text AS text FROM audit_entries ORDER BY position")
    finally:
        await pool.close()
    assert served == exported == [_as_api(c) for c in written]
    # COPY and INSERT store the same text, which is what orjson makes of them; NULL for no changes.
    assert [r["text"] for r in stored] == [field_changes.dumps(c).decode() if c else None for c in written]


def test_the_command_line_export_reads_the_changes_as_written(database_url: str) -> None:
    written = _written(database_url)
    out = io.StringIO()
    assert audit_export.export_to(database_url, audit_trail.Selection(), "jsonl", out) == len(written)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["changes"] for line in lines] == [_as_api(c) for c in written]
