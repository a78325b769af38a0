"""What every fault scenario asserts once the dust settles, and the figures it prints."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import psycopg

from tests.e2e.test_cli_import import run
from tests.faults.load import Tally
from tests.integration.test_projection import position, snapshot


def stored_commentary(database_url: str) -> Counter[str]:
    """How many commentary events the event store holds for each text (the writers' keys)."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT convert_from(state, 'UTF8')::jsonb ->> 'text' FROM ledger_events WHERE topic LIKE %s",
            ("%CommentaryUpdated",),
        ).fetchall()
    return Counter(str(text) for (text,) in rows)


def last_position(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT coalesce(max(notification_id), 0) FROM ledger_events").fetchone()
    return int(row[0]) if row else 0


def projected(database_url: str) -> int:
    """The read model's position; 0 before its tables exist."""
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT to_regclass('current_state_tracking') IS NOT NULL").fetchone()
    return position(database_url) if row and row[0] else 0


def until_projected(database_url: str, timeout: float = 60) -> None:
    """Until the read model has reached the store's last event."""
    deadline = time.monotonic() + timeout
    while projected(database_url) < last_position(database_url):
        assert time.monotonic() < deadline, f"the read model is stuck at {projected(database_url)}"
        time.sleep(0.05)


def assert_nothing_lost_or_doubled(database_url: str, tally: Tally, keys: list[str]) -> None:
    """Each write answered once, with the position of the one event it recorded; no other answers."""
    assert tally.unexpected == [], tally.unexpected
    assert sorted(tally.answered) == sorted(keys)
    stored = stored_commentary(database_url)
    assert {k: n for k, n in stored.items() if k in tally.answered and n != 1} == {}, "a write recorded twice"
    assert set(tally.answered) <= set(stored), "an answered write is missing from the store"
    with psycopg.connect(database_url) as conn:
        at = dict(
            conn.execute(
                "SELECT convert_from(state, 'UTF8')::jsonb ->> 'text', notification_id FROM ledger_events"
                " WHERE notification_id = ANY(%s)",
                (list(tally.answered.values()),),
            ).fetchall()
        )
    assert {k: at.get(k) for k in tally.answered} == tally.answered, "an answer names another event's position"


def assert_read_model_is_a_rebuild(database_url: str) -> None:
    """The served read model (the service stopped) is what `measure-ledger rebuild` makes from the store."""
    until_projected(database_url)
    served = snapshot(database_url)
    rebuilt = run(database_url, "rebuild")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert snapshot(database_url) == served


def assert_verified(database_url: str) -> None:
    verified = run(database_url, "verify")
    assert verified.returncode == 0 and verified.stdout.startswith("OK"), verified.stdout + verified.stderr


def assert_whole(database_url: str, tally: Tally, keys: list[str]) -> None:
    """Nothing lost, nothing doubled, the read model a rebuild's, the hash chain clean; the service stopped."""
    assert_nothing_lost_or_doubled(database_url, tally, keys)
    assert_read_model_is_a_rebuild(database_url)
    assert_verified(database_url)


def figures(scenario: str, **values: Any) -> None:
    """One line of figures per scenario, as `pytest -m faults -s` shows them (docs/reliability.md)."""
    shown = ", ".join(_figure(name, value) for name, value in values.items())
    print(f"\nfaults | {scenario}: {shown}", flush=True)


def _figure(name: str, value: Any) -> str:
    if name.endswith("_s"):  # seconds
        return f"{name[:-2].replace('_', ' ')} {value:.1f} s"
    return f"{name.replace('_', ' ')} {value}"
