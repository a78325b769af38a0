"""The webhooks' tables: the registry, the delivery log, and the dispatcher's leadership.

They are not derived from events (like `api_tokens`, they are configuration and bookkeeping), so a
rebuild of the read model leaves them alone. A webhook's cursor is the key of the last message its
receiver acknowledged: (position, quarter) for a status change, (position, '') for an audit entry.
"""

from __future__ import annotations

import asyncpg

LOCK_KEY = 0x4D4C5748  # "MLWH": the webhook dispatcher leader's advisory lock

DDL = """DO $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('measure-ledger webhooks'));
    CREATE TABLE IF NOT EXISTS webhooks (
        id uuid PRIMARY KEY,
        partnership text,  -- NULL: every partnership (an operator's webhook)
        url text NOT NULL,
        kinds text[] NOT NULL,
        plan_id uuid,
        measure_id uuid,
        description text,
        secret text NOT NULL,
        previous_secret text,
        previous_secret_until timestamptz,
        paused_at timestamptz,
        paused_reason text,
        cursor_position bigint NOT NULL DEFAULT 0,
        cursor_quarter text NOT NULL DEFAULT '',
        replays integer NOT NULL DEFAULT 0,
        failures integer NOT NULL DEFAULT 0,
        failing_since timestamptz,
        next_attempt_at timestamptz,
        last_error text,
        last_error_at timestamptz,
        last_delivered_at timestamptz,
        revision bigint NOT NULL DEFAULT 0,
        created_at timestamptz NOT NULL DEFAULT now(),
        created_by text NOT NULL
    );
    CREATE INDEX IF NOT EXISTS webhooks_partnership ON webhooks (lower(partnership), created_at);
    CREATE TABLE IF NOT EXISTS webhook_attempts (
        id bigserial PRIMARY KEY,
        webhook_id uuid NOT NULL REFERENCES webhooks ON DELETE CASCADE,
        message_id text NOT NULL,
        type text NOT NULL,
        position bigint NOT NULL,
        quarter text NOT NULL,
        attempt integer NOT NULL,
        attempted_at timestamptz NOT NULL,
        seconds double precision NOT NULL,
        status_code integer,
        error text,
        delivered boolean NOT NULL
    );
    CREATE INDEX IF NOT EXISTS webhook_attempts_webhook ON webhook_attempts (webhook_id, id);
    CREATE INDEX IF NOT EXISTS webhook_attempts_attempted_at ON webhook_attempts (attempted_at);
    -- One row: the leader's fencing epoch (a new leader bumps it, and every write of the old one then
    -- changes nothing) and its heartbeat, which processes on standby watch.
    CREATE TABLE IF NOT EXISTS webhook_dispatch (
        only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
        epoch bigint NOT NULL DEFAULT 0,
        beat bigint NOT NULL DEFAULT 0
    );
    INSERT INTO webhook_dispatch DEFAULT VALUES ON CONFLICT DO NOTHING;
END $$"""

# Told of every change to the registry, with the webhook's id: the leader reloads it at once.
CHANNEL = "measure_ledger_webhooks"


async def ensure_tables(pool: asyncpg.Pool | asyncpg.Connection) -> None:
    """Create the tables if missing; any process may, at any time."""
    await pool.execute(DDL)
