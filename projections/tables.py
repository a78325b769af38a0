"""DDL of the current-state read model.

Every table is derived: `measure-ledger rebuild` empties them and replays the
event store.
"""

from __future__ import annotations

TABLES = (
    "plans",
    "themes",
    "measures",
    "components",
    "baselines",
    "figures",
    "quarter_results",
    "audit_entries",
)

DDL = [
    """CREATE TABLE IF NOT EXISTS plans (
        id uuid PRIMARY KEY,
        partnership text NOT NULL,
        title text NOT NULL,
        year text NOT NULL,
        period_start date NOT NULL,
        period_end date NOT NULL,
        discrepancy_threshold numeric NOT NULL,
        version integer NOT NULL,
        created_at timestamptz NOT NULL,
        created_by text NOT NULL,
        modified_at timestamptz NOT NULL,
        position bigint NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS plans_partnership ON plans (partnership)",
    """CREATE TABLE IF NOT EXISTS themes (
        plan_id uuid NOT NULL,
        code text NOT NULL,
        title text NOT NULL,
        ordinal integer NOT NULL,
        PRIMARY KEY (plan_id, code)
    )""",
    """CREATE TABLE IF NOT EXISTS measures (
        id uuid PRIMARY KEY,
        plan_id uuid NOT NULL,
        theme_code text NOT NULL,
        number text NOT NULL,
        sort_key text NOT NULL,
        title text NOT NULL,
        description text,
        direction text NOT NULL,
        basis text NOT NULL,
        tolerance numeric NOT NULL,
        unit text,
        status text NOT NULL,
        version integer NOT NULL,
        modified_at timestamptz NOT NULL,
        position bigint NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS measures_plan ON measures (plan_id, sort_key)",
    """CREATE TABLE IF NOT EXISTS components (
        measure_id uuid NOT NULL,
        key text NOT NULL,
        label text NOT NULL,
        ordinal integer NOT NULL,
        PRIMARY KEY (measure_id, key)
    )""",
    """CREATE TABLE IF NOT EXISTS baselines (
        measure_id uuid NOT NULL,
        component text NOT NULL,
        seq integer NOT NULL,
        value numeric,
        numerator numeric,
        denominator numeric,
        period text,
        profile numeric[],
        note text,
        is_reset boolean NOT NULL,
        reason text,
        recorded_at timestamptz NOT NULL,
        recorded_by text NOT NULL,
        discrepancy boolean NOT NULL,
        discrepancy_reason text,
        PRIMARY KEY (measure_id, component, seq)
    )""",
    """CREATE TABLE IF NOT EXISTS figures (
        measure_id uuid NOT NULL,
        component text NOT NULL,
        quarter text NOT NULL,
        value numeric,
        numerator numeric,
        denominator numeric,
        available boolean NOT NULL,
        unavailable_reason text,
        measured numeric,
        comparison_value numeric,
        change numeric,
        status text NOT NULL,
        rule text NOT NULL,
        baseline_seq integer,
        reported_change numeric,
        discrepancy boolean NOT NULL,
        discrepancy_reason text,
        commentary text,
        revision integer NOT NULL,
        reason text,
        recorded_at timestamptz NOT NULL,
        recorded_by text NOT NULL,
        PRIMARY KEY (measure_id, component, quarter)
    )""",
    """CREATE TABLE IF NOT EXISTS quarter_results (
        measure_id uuid NOT NULL,
        quarter text NOT NULL,
        status text NOT NULL,
        computed_status text NOT NULL,
        override_status text,
        override_reason text,
        override_by text,
        override_at timestamptz,
        commentary text,
        commentary_at timestamptz,
        commentary_by text,
        PRIMARY KEY (measure_id, quarter)
    )""",
    """CREATE TABLE IF NOT EXISTS audit_entries (
        position bigint PRIMARY KEY,
        recorded_at timestamptz NOT NULL,
        actor text NOT NULL,
        action text NOT NULL,
        plan_id uuid,
        measure_id uuid,
        measure_number text,
        component text,
        quarter text,
        field text,
        before text,
        after text,
        reason text
    )""",
    "CREATE INDEX IF NOT EXISTS audit_entries_measure ON audit_entries (measure_id, position)",
    "CREATE INDEX IF NOT EXISTS audit_entries_plan ON audit_entries (plan_id, position)",
    "CREATE INDEX IF NOT EXISTS audit_entries_actor ON audit_entries (actor, position)",
    "CREATE INDEX IF NOT EXISTS audit_entries_recorded_at ON audit_entries (recorded_at, position)",
]
