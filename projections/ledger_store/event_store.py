"""The event store as the service opens it: created if missing, and append-only.

A trigger refuses every UPDATE, DELETE and TRUNCATE of a protected table,
whoever asks, so the service's own role cannot rewrite history even though
eventsourcing's `LOCK TABLE ... IN EXCLUSIVE MODE` makes it hold UPDATE
privilege on the events table (PostgreSQL asks for UPDATE, DELETE or TRUNCATE
privilege for that lock mode). Only the table's owner can disable the
trigger; the README's least-privilege role is not the owner.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import cast

from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Identifier

from projections.persistence import ConcurrentLedger

FUNCTION = "measure_ledger_append_only"
# Serialises installers: several processes may start at once.
LOCK_KEY = 0x4D4C414F  # "MLAO"

_CREATE_FUNCTION = SQL(
    """CREATE OR REPLACE FUNCTION {}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% on %: the ledger is append-only', TG_OP, TG_TABLE_NAME
        USING HINT = 'recorded events are never changed or removed; record a new event instead';
END
$$"""
).format(Identifier(FUNCTION))


def trigger_name(table: str) -> str:
    return f"{table}_append_only"


def make_append_only(datastore: PostgresDatastore, table: str) -> None:
    """Install the append-only trigger on `table` unless it is there already (idempotent)."""
    with datastore.transaction(commit=True) as curs:
        if _has_trigger(datastore, curs, table):
            # The usual case, and the only one a role without DDL rights can pass.
            return
        curs.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        if _has_trigger(datastore, curs, table):
            return
        curs.execute(_CREATE_FUNCTION)
        # FOR EACH STATEMENT: fires even when no row matches, and covers TRUNCATE.
        curs.execute(
            SQL(
                "CREATE TRIGGER {} BEFORE UPDATE OR DELETE OR TRUNCATE ON {}.{} "
                "FOR EACH STATEMENT EXECUTE FUNCTION {}()"
            ).format(
                Identifier(trigger_name(table)),
                Identifier(datastore.schema),
                Identifier(table),
                Identifier(FUNCTION),
            )
        )


def _has_trigger(datastore: PostgresDatastore, curs: Cursor[DictRow], table: str) -> bool:
    row = curs.execute(
        "SELECT 1 FROM pg_trigger WHERE tgname = %s AND tgrelid = to_regclass(%s)",
        (trigger_name(table), f'"{datastore.schema}"."{table}"'),
    ).fetchone()
    return row is not None


def open_ledger(env: Mapping[str, str]) -> ConcurrentLedger:
    """The Ledger as a service process runs it (projections/persistence.py), its event store created if missing
    and made append-only."""
    ledger = ConcurrentLedger(env=dict(env))
    recorder = cast(PostgresApplicationRecorder, ledger.recorder)
    try:
        make_append_only(recorder.datastore, recorder.events_table_name)
    except BaseException:
        ledger.close()
        raise
    return ledger
