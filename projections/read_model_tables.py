"""The read model's tables: their DDL, each table's key and owner columns, and the version of their shape.

Every row of the state tables carries the ledger positions between which it
was true (`valid_from` inclusive, `valid_to` exclusive, NULL while current),
so "what did the ledger show at position P" is an indexed lookup, never a
replay. Every table is derived: `measure-ledger rebuild` empties them and
replays the event store.
"""

from __future__ import annotations

# Bump when the tables below change shape: the read model is then dropped and
# rebuilt from the event store on the next start.
VERSION = 10

# table -> the columns that identify a row within one moment
KEYS: dict[str, tuple[str, ...]] = {
    "plans": ("id",),
    "themes": ("plan_id", "code"),
    "measures": ("id",),
    "components": ("measure_id", "key"),
    "baselines": ("measure_id", "component", "seq"),
    "figures": ("measure_id", "component", "quarter"),
    "quarter_results": ("measure_id", "quarter"),
    "owners": ("measure_id",),
    "returns": ("measure_id", "quarter"),
    "collections": ("plan_id", "quarter"),
    "publications": ("plan_id", "id"),
}
# the column reads select by, for the current and the as-of indexes
OWNER = {
    "plans": "id",
    "themes": "plan_id",
    "measures": "plan_id",
    "components": "measure_id",
    "baselines": "measure_id",
    "figures": "measure_id",
    "quarter_results": "measure_id",
    "owners": "measure_id",
    "returns": "measure_id",
    "collections": "plan_id",
    "publications": "plan_id",
}
TABLES = (*KEYS, "audit_entries", "status_changes")

_COLUMNS = {
    "plans": """
        id uuid NOT NULL,
        partnership text NOT NULL,
        title text NOT NULL,
        year text NOT NULL,
        period_start date NOT NULL,
        period_end date NOT NULL,
        discrepancy_threshold numeric NOT NULL,
        version integer NOT NULL,
        created_at timestamptz NOT NULL,
        created_by text NOT NULL,
        modified_at timestamptz NOT NULL""",
    "themes": """
        plan_id uuid NOT NULL,
        code text NOT NULL,
        title text NOT NULL,
        ordinal integer NOT NULL""",
    "measures": """
        id uuid NOT NULL,
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
        modified_at timestamptz NOT NULL""",
    "components": """
        measure_id uuid NOT NULL,
        key text NOT NULL,
        label text NOT NULL,
        ordinal integer NOT NULL""",
    "baselines": """
        measure_id uuid NOT NULL,
        component text NOT NULL,
        seq integer NOT NULL,
        value numeric,
        numerator numeric,
        denominator numeric,
        rate numeric,
        period text,
        profile numeric[],
        note text,
        is_reset boolean NOT NULL,
        reason text,
        recorded_at timestamptz NOT NULL,
        recorded_by text NOT NULL,
        discrepancy boolean NOT NULL,
        discrepancy_reason text""",
    "figures": """
        measure_id uuid NOT NULL,
        component text NOT NULL,
        quarter text NOT NULL,
        value numeric,
        numerator numeric,
        denominator numeric,
        available boolean NOT NULL,
        unavailable_reason text,
        measured numeric,
        rate numeric,
        progress numeric,
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
        recorded_by text NOT NULL""",
    "quarter_results": """
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
        commentary_by text""",
    "owners": """
        measure_id uuid NOT NULL,
        principal text NOT NULL,
        agency text NOT NULL,
        assigned_at timestamptz NOT NULL,
        assigned_by text NOT NULL,
        reason text""",
    "returns": """
        measure_id uuid NOT NULL,
        quarter text NOT NULL,
        state text NOT NULL,
        submitted_by text NOT NULL,
        submitted_at timestamptz NOT NULL,
        missing text[] NOT NULL,
        acted_by text NOT NULL,
        acted_at timestamptz NOT NULL,
        reason text""",
    "collections": """
        plan_id uuid NOT NULL,
        quarter text NOT NULL,
        due_on date NOT NULL,
        opened_by text NOT NULL,
        opened_at timestamptz NOT NULL,
        changed_by text,
        changed_at timestamptz,
        change_reason text""",
    "publications": """
        plan_id uuid NOT NULL,
        id uuid NOT NULL,
        quarter text NOT NULL,
        title text NOT NULL,
        presented_on date NOT NULL,
        position bigint NOT NULL,
        forced boolean NOT NULL,
        outstanding_numbers text[] NOT NULL,
        outstanding_states text[] NOT NULL,
        reason text,
        published_by text NOT NULL,
        published_at timestamptz NOT NULL""",
}


def _state_table(table: str) -> list[str]:
    keys = ", ".join(KEYS[table])
    owner = OWNER[table]
    return [
        f"""CREATE TABLE IF NOT EXISTS {table} ({_COLUMNS[table]},
        valid_from bigint NOT NULL,
        valid_to bigint,
        PRIMARY KEY ({keys}, valid_from)
    )""",
        f"CREATE UNIQUE INDEX IF NOT EXISTS {table}_current ON {table} ({keys}) WHERE valid_to IS NULL",
        f"CREATE INDEX IF NOT EXISTS {table}_current_{owner} ON {table} ({owner}) WHERE valid_to IS NULL",
        # Time travel reads the rows that had ended by then apart from the current ones: through
        # (owner, valid_to) a read at a recent position skips every version that closed before it,
        # without visiting the table, where (owner, valid_from) walked all of a figure's revisions.
        _closed_index(table, owner),
    ]


def _closed_index(table: str, column: str) -> str:
    return (
        f"CREATE INDEX IF NOT EXISTS {table}_closed_{column} ON {table} ({column}, valid_to, valid_from)"
        " WHERE valid_to IS NOT NULL"
    )


DDL = [
    *(statement for table in KEYS for statement in _state_table(table)),
    _closed_index("measures", "id"),  # a measure read by its id at a past position
    "CREATE INDEX IF NOT EXISTS plans_partnership ON plans (partnership) WHERE valid_to IS NULL",
    "CREATE UNIQUE INDEX IF NOT EXISTS publications_id ON publications (id) WHERE valid_to IS NULL",
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
        reason text,
        known_at timestamptz NOT NULL,
        changes json
    )""",
    # known_at never decreases in position order (see current_state.py), so
    # "the last position known at T" is one index probe and moves forward with T.
    "CREATE INDEX IF NOT EXISTS audit_entries_known_at ON audit_entries (known_at, position)",
    "CREATE INDEX IF NOT EXISTS audit_entries_measure ON audit_entries (measure_id, position)",
    "CREATE INDEX IF NOT EXISTS audit_entries_plan ON audit_entries (plan_id, position)",
    "CREATE INDEX IF NOT EXISTS audit_entries_actor ON audit_entries (actor, position)",
    "CREATE INDEX IF NOT EXISTS audit_entries_action ON audit_entries (action, position)",
    "CREATE INDEX IF NOT EXISTS audit_entries_recorded_at ON audit_entries (recorded_at, position)",
    """CREATE TABLE IF NOT EXISTS status_changes (
        position bigint NOT NULL,
        quarter text NOT NULL,
        recorded_at timestamptz NOT NULL,
        actor text NOT NULL,
        action text NOT NULL,
        plan_id uuid NOT NULL,
        measure_id uuid NOT NULL,
        measure_number text NOT NULL,
        from_status text NOT NULL,
        to_status text NOT NULL,
        reason text,
        PRIMARY KEY (position, quarter)
    )""",
    "CREATE INDEX IF NOT EXISTS status_changes_plan ON status_changes (plan_id, position)",
    "CREATE INDEX IF NOT EXISTS status_changes_measure ON status_changes (measure_id, position)",
]


def _column_types(statement: str) -> dict[str, str]:
    """Column -> type name of a CREATE TABLE statement above (its PRIMARY KEY clause skipped)."""
    types = {}
    for part in statement[statement.index("(") + 1 :].split(","):
        words = part.split()
        if len(words) >= 2 and words[0].isidentifier() and words[0] != "PRIMARY":
            types[words[0]] = words[1]
    return types


# table -> column -> type, for binary COPY, which sends each value as exactly its column's type.
TYPES: dict[str, dict[str, str]] = {
    statement.split()[5]: _column_types(statement) for statement in DDL if statement.startswith("CREATE TABLE")
}
