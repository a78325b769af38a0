"""The advisory locks by which processes sharing one database take turns with the read model.

Advisory locks belong to a session: one that dies releases them, so a lock held is a process at work.
"""

from __future__ import annotations

from typing import Any

import psycopg

LOCK_KEY = 0x4D4C5052  # "MLPR": the projection leader's, held for as long as it leads
# Serialises the processes opening the read model (each checks its version, and may drop it).
OPENING_LOCK_KEY = LOCK_KEY + 1
# Held by a rebuild for its whole run, besides the leader's lock: a leader that finds the read model
# marked as being rebuilt can then tell a rebuild under way from one that died.
REBUILD_LOCK_KEY = 0x4D4C5242  # "MLRB"


def held_elsewhere(conn: psycopg.Connection[Any], key: int) -> bool:
    """Whether another session holds the advisory lock `key`."""
    row = conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
    if row and row[0]:
        conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
        return False
    return True
