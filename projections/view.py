"""The current-state view: the read model's tables and the tracking row that says how far they go.

"View" is eventsourcing's word for what a projection writes (`Projection.view`): a tracking
recorder with tables of its own. This one is opened at the code's version of the tables
(projections/read_model_tables.py `VERSION`): tables of another shape are dropped, for the projection to
rebuild from the event store. It is served from the public schema; a rebuild beside it builds
another in a schema of its own (projections/beside.py).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import psycopg
from eventsourcing.persistence import InfrastructureFactory, Tracking
from eventsourcing.postgres import PostgresTrackingRecorder
from eventsourcing.utils import Environment
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Composed, Identifier

from projections.locks import OPENING_LOCK_KEY, REBUILD_LOCK_KEY, held_elsewhere
from projections.read_model_tables import DDL, TABLES, VERSION
from projections.row_changes import RowChanges

log = logging.getLogger(__name__)

CHANNEL = "measure_ledger_view"
NAME = "current_state"
# eventsourcing reads a recorder's settings under its name first: this one moves only the read model.
SCHEMA_SETTING = f"{NAME.upper()}_POSTGRES_SCHEMA"
# Up to this many rows a batch is written with pipelined INSERTs, beyond it with COPY (projections/row_changes.py).
PIPELINED_ROWS = 200
# read_model_meta.version while a rebuild runs: -VERSION (see `_drop_outdated_read_model`).
REBUILDING = -VERSION
_ANY_ROW = SQL("EXISTS (SELECT FROM {})")


class CurrentStateView(PostgresTrackingRecorder):
    """The read model's tables, and the tracking row that says how far they go."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sql_create_statements.extend(Composed([SQL(statement)]) for statement in DDL)
        # Off for a rebuild's shares: their positions are not the view's (projections/rebuild.py).
        self.notify = True
        if self.datastore.schema != "public":
            # A read model built beside the served one (projections/beside.py): its own SQL names its tables
            # unqualified, so its connections look in its schema first (and find the event store in public).
            # Nobody waits for its positions.
            pool = self.datastore.pool
            assert isinstance(pool.kwargs, dict)  # as the datastore makes it, before the pool opens
            pool.kwargs = {**pool.kwargs, "options": search_path(self.datastore.schema)}
            self.notify = False

    def write(self, changes: RowChanges, tracking: Tracking) -> None:
        """Write a batch of changes and move the tracking position past it, exactly once."""
        if changes.rows() > PIPELINED_ROWS:
            with self.datastore.transaction(commit=True) as curs:
                self._insert_tracking(curs, tracking)
                changes.write(curs)
                self._notify(curs, tracking)
            return
        # A few events' rows (the live projection's usual batch): the whole transaction in a pipeline, in
        # two round trips (the library's tracking insert reads its result) instead of about a dozen.
        with self.datastore.get_connection() as conn, conn.pipeline(), conn.transaction(), conn.cursor() as curs:
            self._insert_tracking(curs, tracking)
            changes.insert(curs)
            self._notify(curs, tracking)

    def _notify(self, curs: Cursor[DictRow], tracking: Tracking) -> None:
        if self.notify:
            # Delivered only when the transaction commits, so a listener that
            # reads after the notice always sees the rows.
            curs.execute("SELECT pg_notify(%s, %s)", (CHANNEL, str(tracking.notification_id)))

    def clear(self) -> None:
        """Empty every table and forget the position, ready for a rebuild."""
        with self.datastore.transaction(commit=True) as curs:
            # TRUNCATE makes new files for every table and index (tens of ms even when empty, as in
            # a first rebuild); tables with no row at all need nothing.
            curs.execute(
                SQL("SELECT {} AS found").format(SQL(" OR ").join(_ANY_ROW.format(Identifier(t)) for t in TABLES))
            )
            row = curs.fetchone()
            if row is None or row["found"]:
                curs.execute(SQL("TRUNCATE {}").format(SQL(", ").join(Identifier(t) for t in TABLES)))
            # The library keeps a marker row of its own in the tracking table.
            curs.execute(
                SQL("DELETE FROM {} WHERE application_name <> %s").format(Identifier(self.tracking_table_name)),
                (self.table_migration_identifier,),
            )

    def known_at(self) -> datetime | None:
        """The latest time the audit entries have reached."""
        with self.datastore.transaction(commit=False) as curs:
            curs.execute("SELECT max(known_at) AS known_at FROM audit_entries")
            row = curs.fetchone()
        return row["known_at"] if row else None

    def position(self, application_name: str) -> int:
        return self.max_tracking_id(application_name) or 0


def schema_of(env: Mapping[str, str]) -> str:
    """The schema the read model of these settings is in: public, where it is served, unless built beside it."""
    return env.get(SCHEMA_SETTING) or "public"


def search_path(schema: str) -> str:
    """libpq's `options` for connections that look in `schema` first, then in public."""
    return f"-c search_path={schema},public"


def open_view(env: Mapping[str, str]) -> CurrentStateView:
    """The view's recorder, its tables created if missing and rebuilt if outdated."""
    # One built beside the served one starts from an empty schema of its own (projections/beside.py).
    if schema_of(env) == "public" and _drop_outdated_read_model(env):
        # Opened as the tables are: creating them "if not exists" would put back the indexes the
        # rebuild dropped (projections/rebuild.py), and would collide with its building them.
        env = {**env, "CREATE_TABLE": "no"}
    factory = InfrastructureFactory[CurrentStateView].construct(env=Environment(NAME, dict(env)))
    return factory.tracking_recorder(CurrentStateView)


def _drop_outdated_read_model(env: Mapping[str, str]) -> bool:
    """Read-model tables of another shape are dropped: the projection rebuilds them from events.

    Returns whether a rebuild is under way, in which case the tables are left as they are.
    """
    with psycopg.connect(conninfo(env), autocommit=True) as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (OPENING_LOCK_KEY,))
        conn.execute("CREATE TABLE IF NOT EXISTS read_model_meta (name text PRIMARY KEY, version integer NOT NULL)")
        row = conn.execute("SELECT version FROM read_model_meta WHERE name = %s", (NAME,)).fetchone()
        if row is not None and row[0] == VERSION:
            return False
        if row is not None and row[0] == REBUILDING and held_elsewhere(conn, REBUILD_LOCK_KEY):
            # A rebuild is under way (it holds the lock); one that died released it, and is redone here.
            return True
        if row is not None or _has_table(conn, "plans"):
            log.warning("read model is at version %s, code at %s: dropping it to rebuild", row and row[0], VERSION)
            for table in (*TABLES, f"{NAME}_tracking"):
                conn.execute(SQL("DROP TABLE IF EXISTS {} CASCADE").format(Identifier(table)))
        conn.execute(
            "INSERT INTO read_model_meta VALUES (%s, %s) ON CONFLICT (name) DO UPDATE SET version = excluded.version",
            (NAME, VERSION),
        )
        return False


def _has_table(conn: psycopg.Connection[Any], table: str) -> bool:
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()
    return bool(row and row[0])


def conninfo(env: Mapping[str, str]) -> str:
    """A libpq connection string from the eventsourcing POSTGRES_* settings (for the read model's schema)."""
    parts = {
        "dbname": env.get("POSTGRES_DBNAME", ""),
        "host": env.get("POSTGRES_HOST", ""),
        "port": env.get("POSTGRES_PORT", ""),
        "user": env.get("POSTGRES_USER", ""),
        "password": env.get("POSTGRES_PASSWORD", ""),
    }
    if (schema := schema_of(env)) != "public":
        parts["options"] = search_path(schema)
    return psycopg.conninfo.make_conninfo(**{k: v for k, v in parts.items() if v})
