"""Rebuilding the read model beside the served one, then swapping it in (`measure-ledger rebuild`).

The new read model is built in a schema of its own (SCHEMA), in shares as projections/rebuild.py builds
one, while the service goes on serving, and projecting into, the read model as it is: reads stay whole
and current, and writes are answered as before. At the end the rebuild takes the projection's lead
(projections/handover.py), brings the new read model up to the store's last event, and in one
transaction drops the served tables and moves the new ones into their place, with their indexes and
tracking row. Then it lets the lead go, and a process of the service on standby takes it back within
two seconds and follows on from the new position. Writes wait for that hand-over (seconds); reads wait
only for the swap's transaction, which never waits more than SWAP_LOCK_TIMEOUT for a read in progress.

A rebuild that dies leaves the served read model as it was, and the next starts its schema afresh.
A role that may not create a schema rebuilds in place instead, saying so (reads then see a partial read
model until it ends); the README's least-privilege role is granted what it needs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

import psycopg
from psycopg.rows import TupleRow
from psycopg.sql import SQL, Identifier

from domain.ledger import Ledger
from projections.catch_up import Progress, catch_up
from projections.current_state import CurrentState
from projections.handover import Say, take_lead, wait_for
from projections.ledger_store.chain import open_chain
from projections.ledger_store.event_store import open_ledger
from projections.locks import LOCK_KEY, REBUILD_LOCK_KEY
from projections.read_model_tables import TABLES, VERSION
from projections.rebuild import build_read_model, rebuild
from projections.view import CHANNEL, NAME, SCHEMA_SETTING, conninfo, open_view

log = logging.getLogger(__name__)

SCHEMA = "read_model_rebuild"
# The swap waits at most this long for the reads in progress on the served tables (an audit export may
# stream for minutes), since every read that starts meanwhile waits behind it; then it tries again.
SWAP_LOCK_TIMEOUT = "2s"
_SWAPPED = (*TABLES, f"{NAME}_tracking")
_META = "(name text PRIMARY KEY, version integer NOT NULL)"  # read_model_meta's columns (projections/view.py)


class _Moved(Exception):
    """The served read model moved past the new one before the swap: catch up again."""


def rebuild_beside(
    env: Mapping[str, str], progress: Progress | None = None, *, shares: int | None = None, say: Say = log.info
) -> int:
    """Rebuild the read model beside the served one and swap it in; returns how many events it projected."""
    with psycopg.connect(conninfo(env), autocommit=True) as conn:
        wait_for(conn, REBUILD_LOCK_KEY, "another rebuild", say)
        try:
            if _made(conn):
                beside = {**env, SCHEMA_SETTING: SCHEMA}
                say("building the new read model beside the served one: reads and writes go on meanwhile")
                done = build_read_model(conn, beside, progress, shares)
                take_lead(conn, LOCK_KEY, say)
                try:
                    return done + _swap_in(conn, env, beside, say)
                finally:
                    conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
        finally:
            if not conn.closed:
                conn.execute("SELECT pg_advisory_unlock(%s)", (REBUILD_LOCK_KEY,))
    say("this role may not create a schema: rebuilding in place (reads see a partial read model until it ends)")
    return rebuild(env, progress, shares=shares, say=say)


def _made(conn: psycopg.Connection[TupleRow]) -> bool:
    """An empty SCHEMA, with a read_model_meta of its own, so nothing of the rebuild's touches the served one's."""
    try:
        with conn.transaction():
            conn.execute(SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(Identifier(SCHEMA)))
            conn.execute(SQL("CREATE SCHEMA {}").format(Identifier(SCHEMA)))
            conn.execute(SQL(f"CREATE TABLE {{}} {_META}").format(Identifier(SCHEMA, "read_model_meta")))
            conn.execute(
                SQL("INSERT INTO {} VALUES (%s, %s)").format(Identifier(SCHEMA, "read_model_meta")), (NAME, VERSION)
            )
    except psycopg.errors.InsufficientPrivilege:
        return False
    return True


def _swap_in(conn: psycopg.Connection[TupleRow], env: Mapping[str, str], beside: Mapping[str, str], say: Say) -> int:
    """Catch the new read model up with the store, then swap it in; returns how many events it caught up."""
    ledger = open_ledger(env)
    view = open_view(beside)
    chain = open_chain(env)
    try:
        projection = CurrentState(view, ledger, chain=chain)
        done = 0
        while True:
            done += catch_up(ledger, projection)
            position = view.position(ledger.name)
            try:
                _swap(conn, position)
                say(f"swapped the new read model in at position {position}")
                return done
            except _Moved:
                continue  # the service's leader projected a last transaction before it stood by
            except psycopg.errors.LockNotAvailable:
                say(f"reads in progress held the served tables for {SWAP_LOCK_TIMEOUT}; trying again")
                time.sleep(0.5)
    finally:
        chain.datastore.close()
        view.datastore.close()
        ledger.close()


def _swap(conn: psycopg.Connection[TupleRow], position: int) -> None:
    """In one transaction: the served tables dropped, the new ones moved into their place, a notice."""
    with conn.transaction():
        conn.execute(SQL("SET LOCAL lock_timeout = {}").format(SQL(repr(SWAP_LOCK_TIMEOUT))))
        tracking = Identifier("public", f"{NAME}_tracking")
        if _exists(conn, f"public.{NAME}_tracking"):
            # Locked first, so the service's leader, should it not have stood by yet, cannot move on meanwhile.
            conn.execute(SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(tracking))
            served = conn.execute(
                SQL("SELECT max(notification_id) FROM {} WHERE application_name = %s").format(tracking), (Ledger.name,)
            ).fetchone()
            if served is not None and (served[0] or 0) > position:
                raise _Moved
        conn.execute(
            SQL("DROP TABLE IF EXISTS {} CASCADE").format(
                SQL(", ").join(Identifier("public", table) for table in _SWAPPED)
            )
        )
        for table in _SWAPPED:
            conn.execute(SQL("ALTER TABLE {} SET SCHEMA public").format(Identifier(SCHEMA, table)))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS public.read_model_meta (name text PRIMARY KEY, version integer NOT NULL)"
        )
        conn.execute(
            "INSERT INTO public.read_model_meta VALUES (%s, %s)"
            " ON CONFLICT (name) DO UPDATE SET version = excluded.version",
            (NAME, VERSION),
        )
        conn.execute(SQL("DROP SCHEMA {} CASCADE").format(Identifier(SCHEMA)))
        conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, str(position)))


def _exists(conn: psycopg.Connection[TupleRow], table: str) -> bool:
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()
    return bool(row and row[0])
