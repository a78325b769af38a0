"""Row changes of many events, gathered in memory and written in one transaction.

A rebuild would spend most of its time in round trips if every event were its
own transaction; gathering a batch lets each table take one COPY and one
UPDATE, while a row that opens and closes within the batch never reaches the
database open at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from operator import itemgetter
from struct import Struct
from typing import Any

from psycopg import Copy, Cursor
from psycopg.adapt import Dumper
from psycopg.pq import Format
from psycopg.rows import DictRow
from psycopg.sql import SQL, Composed, Identifier, Placeholder

from projections.field_changes import FieldChangesBinaryDumper, json_param
from projections.read_model_tables import KEYS, TYPES
from projections.rows import Key, Row, Rows

# A state-table row and the positions it is true between: [row, valid_from, valid_to].
# Kept apart from the row, so opening a row does not copy it.
Span = list[Any]


# table -> a row's key columns, as a tuple. The key a row is held under in memory may differ from
# these values (projections/measure_rows.py keys by a measure's UUID's int); the database is sent these.
def _key_values(columns: tuple[str, ...]) -> Callable[[Row], tuple[Any, ...]]:
    if len(columns) > 1:
        getter: Callable[[Row], tuple[Any, ...]] = itemgetter(*columns)
        return getter
    column = columns[0]  # itemgetter of one column gives the value, not a tuple
    return lambda row: (row[column],)


KEY_VALUES = {table: _key_values(columns) for table, columns in KEYS.items()}
NO_ROWS: dict[Key, Row] = {}  # a table an aggregate has no rows in; never written to


@dataclass
class RowChanges:
    """What a run of events did to the read model, not yet written."""

    inserts: dict[str, list[Row]] = field(default_factory=dict)
    spans: dict[str, list[Span]] = field(default_factory=dict)
    ends: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)
    opened: dict[str, dict[Key, Span]] = field(default_factory=dict)
    events: int = 0

    def __bool__(self) -> bool:
        return bool(self.inserts or self.spans or self.ends)

    def move(self, before: Rows, after: Rows, position: int) -> None:
        """Close the rows that stop being true at `position` and open the ones that start."""
        for table in KEYS:
            old, new = before.get(table, NO_ROWS), after.get(table, NO_ROWS)
            if old:
                for key, row in old.items():
                    if new.get(key) != row:
                        self._close(table, key, row, position)
            if not new:
                continue  # most tables: an aggregate has rows in some only
            # Opened inline, the table's spans looked up once, on its first row opened: a new measure opens about
            # ten rows.
            opened = None
            spans: list[Span] = []
            for key, row in new.items():
                if old.get(key) != row:
                    if opened is None:
                        opened = self.opened.setdefault(table, {})
                        spans = self.spans.setdefault(table, [])
                    span = [row, position, None]
                    spans.append(span)
                    opened[key] = span

    def update(self, rows: Rows, changed: Rows, position: int) -> None:
        """Like `move` for the keys in `changed` only, bringing `rows` up to date in place."""
        for table, new in changed.items():
            current = rows[table]
            opened = None
            spans: list[Span] = []
            for key, row in new.items():
                old = current.get(key)
                if old == row:
                    continue
                if opened is None:
                    # Looked up once a table, on its first changed row: most events change one row a table.
                    opened = self.opened.setdefault(table, {})
                    spans = self.spans.setdefault(table, [])
                # `_close` then `_open`, inline: this runs for several rows of every event.
                if old is not None:
                    span = opened.get(key)
                    if span is not None:
                        # Opened earlier in this batch: close it before it is ever written.
                        span[2] = position
                    else:
                        self.ends.setdefault(table, []).append((position,) + KEY_VALUES[table](old))
                span = [row, position, None]
                spans.append(span)
                opened[key] = span
                current[key] = row

    def _close(self, table: str, key: Key, row: Row, position: int) -> None:
        opened = self.opened.get(table)
        span = opened.pop(key, None) if opened is not None else None
        if span is not None:
            # Opened earlier in this batch: close it before it is ever written.
            span[2] = position
        else:
            self.ends.setdefault(table, []).append((position,) + KEY_VALUES[table](row))

    def add(self, table: str, rows: list[Row]) -> None:
        """Rows of an append-only table (audit entries, status changes)."""
        if rows:
            self.inserts.setdefault(table, []).extend(rows)

    def rows(self) -> int:
        """How many rows writing these changes inserts or closes."""
        counts = (len(rows) for part in (self.inserts, self.spans, self.ends) for rows in part.values())
        return sum(counts)

    def write(self, curs: Cursor[DictRow]) -> None:
        """Write with one COPY a table: the cheapest per row, for a catch-up's or a rebuild's batches."""
        self._end_rows(curs)
        for table, spans in self.spans.items():
            columns = list(spans[0][0])
            with _copy(curs, table, [*columns, "valid_from", "valid_to"]) as copy:
                values, write_row = itemgetter(*columns), copy.write_row
                for row, valid_from, valid_to in spans:
                    # Concatenated: one tuple fewer than unpacking into a new one.
                    write_row(values(row) + (valid_from, valid_to))
        for table, rows in self.inserts.items():
            columns = list(rows[0])
            with _copy(curs, table, columns) as copy:
                write_row = copy.write_row
                for values in map(itemgetter(*columns), rows):
                    write_row(values)

    def insert(self, curs: Cursor[DictRow]) -> None:
        """Write with INSERTs, which a pipeline sends with the rest of its transaction at once.

        For the live projection's batches of a few events, which a writer waits for: each COPY is a
        round trip of its own, and on a busy machine every round trip waits for two processes to be
        scheduled. PostgreSQL converts each value from text to its column's type.
        """
        self._end_rows(curs)
        for table, spans in self.spans.items():
            columns = list(spans[0][0])
            values = itemgetter(*columns)
            curs.executemany(
                _insert(table, (*columns, "valid_from", "valid_to")),
                [values(row) + (valid_from, valid_to) for row, valid_from, valid_to in spans],
            )
        for table, rows in self.inserts.items():
            columns = list(rows[0])
            params = list(map(itemgetter(*columns), rows))
            types = TYPES[table]
            for i in (i for i, column in enumerate(columns) if types[column] == "json"):
                # COPY's dumper goes by the column's type; an INSERT's parameters by their class, a plain tuple.
                params = [(*values[:i], json_param(values[i]), *values[i + 1 :]) for values in params]
            curs.executemany(_insert(table, tuple(columns)), params)

    def _end_rows(self, curs: Cursor[DictRow]) -> None:
        # Close before opening: the current-row indexes allow one open row per key.
        for table, ends in self.ends.items():
            match = SQL(" AND ").join(SQL("{} = %s").format(Identifier(c)) for c in KEYS[table])
            curs.executemany(
                SQL("UPDATE {} SET valid_to = %s WHERE {} AND valid_to IS NULL").format(Identifier(table), match),
                ends,
            )


@lru_cache(maxsize=64)
def _insert(table: str, columns: tuple[str, ...]) -> Composed:
    return SQL("INSERT INTO {} ({}) VALUES ({})").format(
        Identifier(table),
        SQL(", ").join(Identifier(c) for c in columns),
        SQL(", ").join(Placeholder() * len(columns)),
    )


TEXT_OID, TEXT_ARRAY_OID = 25, 1009
_ARRAY_HEAD = Struct("!iiiii")  # dimensions, has nulls, element type, length, lower bound
_EMPTY_ARRAY = Struct("!iii").pack(0, 0, TEXT_OID)  # no dimensions
_LENGTH = Struct("!i")
_NULL = _LENGTH.pack(-1)
DUMPED = 512  # arrays kept a COPY, once dumped


class TextArrayBinaryDumper(Dumper):
    """A list of text (or None) as a one-dimensional `text[]`, in COPY's binary format.

    psycopg's own list dumper handles any element type and nesting, finding each element's dumper and
    the list's dimensions as it goes, and that generality was a measurable part of the writer's time when
    every audit entry carried three `text[]` columns (now returns and publications carry them). Same bytes
    for these values.
    """

    format = Format.BINARY
    oid = TEXT_ARRAY_OID

    def __init__(self, cls: type, context: Any = None) -> None:
        super().__init__(cls, context)
        self._encoding = self.connection.info.encoding if self.connection is not None else "utf-8"
        # An array often comes again within a COPY (a return's missing items, a publication's outstanding
        # numbers): each is made once a COPY, up to DUMPED of them.
        self._dumped: dict[tuple[str | None, ...], bytes] = {}

    def dump(self, obj: list[str | None]) -> bytes:
        if not obj:
            return _EMPTY_ARRAY
        key = tuple(obj)
        dumped = self._dumped.get(key)
        if dumped is not None:
            return dumped
        encoding = self._encoding
        parts = [b""]
        has_null = 0
        for item in obj:
            if item is None:
                parts.append(_NULL)
                has_null = 1
            else:
                data = item.encode(encoding)
                parts.append(_LENGTH.pack(len(data)))
                parts.append(data)
        parts[0] = _ARRAY_HEAD.pack(1, has_null, TEXT_OID, len(obj), 1)
        dumped = b"".join(parts)
        if len(self._dumped) < DUMPED:
            self._dumped[key] = dumped
        return dumped


@contextmanager
def _copy(curs: Cursor[DictRow], table: str, columns: list[str]) -> Iterator[Copy]:
    """A binary COPY into `columns` of `table`.

    Binary, because text COPY formats every timestamp and UUID as text, and that
    formatting was most of the writer thread's CPU per event; binary sends the values as they
    are stored, so the tables hold the same values. Binary COPY casts nothing, so each
    value is sent as its column's exact type (projections/read_model_tables.py TYPES).
    """
    statement = SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
        Identifier(table), SQL(", ").join(Identifier(c) for c in columns)
    )
    types = TYPES[table]
    # By type only (no Python class): the other writes' values are dumped as psycopg dumps them.
    if any(types[c] == "text[]" for c in columns):
        curs.adapters.register_dumper(None, TextArrayBinaryDumper)
    if any(types[c] == "json" for c in columns):
        curs.adapters.register_dumper(None, FieldChangesBinaryDumper)
    with curs.copy(statement) as copy:
        copy.set_types([types[c] for c in columns])
        yield copy
