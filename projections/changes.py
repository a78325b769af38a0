"""Row changes of many events, gathered in memory and written in one transaction.

A rebuild would spend most of its time in round trips if every event were its
own transaction; gathering a batch lets each table take one COPY and one
UPDATE, while a row that opens and closes within the batch never reaches the
database open at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Identifier

from projections.rows import Row, Rows
from projections.tables import KEYS

Key = tuple[Any, ...]


@dataclass
class Changes:
    """What a run of events did to the read model, not yet written."""

    inserts: dict[str, list[Row]] = field(default_factory=dict)
    ends: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)
    opened: dict[str, dict[Key, Row]] = field(default_factory=dict)
    events: int = 0

    def __bool__(self) -> bool:
        return bool(self.inserts or self.ends)

    def move(self, before: Rows, after: Rows, position: int) -> None:
        """Close the rows that stop being true at `position` and open the ones that start."""
        for table in KEYS:
            old, new = before.get(table, {}), after.get(table, {})
            opened = self.opened.setdefault(table, {})
            for key, row in old.items():
                if new.get(key) == row:
                    continue
                if key in opened:
                    # Opened earlier in this batch: close it before it is ever written.
                    opened.pop(key)["valid_to"] = position
                else:
                    self.ends.setdefault(table, []).append((position, *key))
            for key, row in new.items():
                if old.get(key) == row:
                    continue
                started = dict(row, valid_from=position, valid_to=None)
                self.inserts.setdefault(table, []).append(started)
                opened[key] = started

    def add(self, table: str, rows: list[Row]) -> None:
        """Rows of an append-only table (audit entries, status changes)."""
        if rows:
            self.inserts.setdefault(table, []).extend(rows)

    def write(self, curs: Cursor[DictRow]) -> None:
        # Close before opening: the current-row indexes allow one open row per key.
        for table, ends in self.ends.items():
            match = SQL(" AND ").join(SQL("{} = %s").format(Identifier(c)) for c in KEYS[table])
            curs.executemany(
                SQL("UPDATE {} SET valid_to = %s WHERE {} AND valid_to IS NULL").format(Identifier(table), match),
                ends,
            )
        for table, rows in self.inserts.items():
            columns = list(rows[0])
            statement = SQL("COPY {} ({}) FROM STDIN").format(
                Identifier(table), SQL(", ").join(Identifier(c) for c in columns)
            )
            with curs.copy(statement) as copy:
                for row in rows:
                    copy.write_row([row[c] for c in columns])
