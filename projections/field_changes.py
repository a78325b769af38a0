"""An audit entry's changed fields, kept as one `json` column: a list of [field, before, after].

A figure event changes several fields, each with its text before and after. Kept as three parallel
`text[]` columns, every audit row cost the projection a transposition of the event's changes and the
writer's binary COPY three Python dumper calls and three arrays; as one `json` array it is one orjson
call on the writer thread, and the projection hands over the event's changes as they are.

`json` rather than `jsonb`: nothing queries inside the column, and json's binary format is the text
itself, which PostgreSQL only validates and keeps as sent, where jsonb would be converted on the server.
An event that changed no figure field (most events but a figure's) has NULL, which binary COPY writes
without calling a dumper. Readers take the text as it comes (asyncpg returns json as `str`) and parse it
only when asked.
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson
from psycopg.adapt import Dumper
from psycopg.pq import Format
from psycopg.types.json import Json

from domain.revisions import FieldChange

JSON_OID = 114


def dumps(changes: Sequence[FieldChange]) -> bytes:
    # A FieldChange is a named tuple, which orjson serialises only through `default`, as an array.
    return orjson.dumps(changes, default=tuple)


def loads(stored: str | bytes | None) -> list[tuple[str, str | None, str | None]]:
    """The changes as written: (field, before, after) triples, in the event's order; none for NULL."""
    if stored is None:
        return []
    changes: list[tuple[str, str | None, str | None]] = orjson.loads(stored)
    return changes


def json_param(changes: Sequence[FieldChange] | None) -> Json | None:
    """For an INSERT's parameters: the same text as COPY sends, or NULL."""
    return None if changes is None else Json(changes, dumps=dumps)


class FieldChangesBinaryDumper(Dumper):
    """A tuple of FieldChange as a `json` value in COPY's binary format, which is the JSON text itself."""

    format = Format.BINARY
    oid = JSON_OID

    def dump(self, obj: Sequence[FieldChange]) -> bytes:
        return orjson.dumps(obj, default=tuple)
