"""The writer's own `text[]` dumper for binary COPY sends what psycopg's general list dumper sends."""

from __future__ import annotations

import psycopg
import pytest
from psycopg.pq import Format

from projections.row_changes import TextArrayBinaryDumper, _copy

VALUES = [[], ["value"], ["value", None, "numerator"], [None], ["é ü 😀", ""], ["x" * 5000]]


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_the_dumper_gives_psycopgs_bytes(database_url: str, value: list[str | None]) -> None:
    with psycopg.connect(database_url) as conn:
        general = conn.adapters.get_dumper_by_oid(TextArrayBinaryDumper.oid, Format.BINARY)(list, conn)
        assert general is not TextArrayBinaryDumper
        dumper = TextArrayBinaryDumper(list, conn)
        # The second time from what the dumper kept of the first.
        assert dumper.dump(value) == dumper.dump(list(value)) == bytes(general.dump(value))


def test_copied_arrays_read_back_as_written(database_url: str) -> None:
    with psycopg.connect(database_url) as conn, conn.cursor() as curs:
        curs.execute("CREATE TABLE returns (quarter text, missing text[] NOT NULL)")
        with _copy(curs, "returns", ["quarter", "missing"]) as copy:
            for n, value in enumerate(VALUES + VALUES):
                copy.write_row((f"{n:02}", value))
        read = curs.execute("SELECT missing FROM returns ORDER BY quarter").fetchall()
    assert [row[0] for row in read] == VALUES + VALUES
