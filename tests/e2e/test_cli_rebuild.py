"""`measure-ledger rebuild` as an operator runs it: the read model replayed from the event store,
in one process or in several, and a bad option refused before anything is touched."""

from __future__ import annotations

import re
from uuid import UUID

import psycopg
import pytest

from tests.e2e.demo import DEMO
from tests.e2e.test_cli_import import ACTOR, run

pytestmark = pytest.mark.slow  # runs the CLI's rebuild in processes of its own

REBUILT = re.compile(r"^rebuilt the read model from (\d+) events$")


def read_model(database_url: str) -> tuple[int, list[tuple[object, ...]]]:
    """The view's position and every current figure with its status."""
    with psycopg.connect(database_url) as conn:
        position = conn.execute(
            "SELECT notification_id FROM current_state_tracking WHERE application_name = 'ledger'"
        ).fetchone()
        figures = conn.execute(
            "SELECT measure_id, component, quarter, value, status FROM figures WHERE valid_to IS NULL"
            " ORDER BY measure_id, component, quarter"
        ).fetchall()
    return (int(position[0]) if position else 0), figures


def test_rebuild_in_two_processes_replays_every_event_into_the_same_read_model(database_url: str) -> None:
    imported = run(database_url, "import", str(DEMO), "--actor", ACTOR)
    assert imported.returncode == 0, imported.stderr
    plan = UUID(imported.stdout.split()[-1])
    once = run(database_url, "rebuild", "--shares", "1")
    assert once.returncode == 0, once.stderr
    before = read_model(database_url)

    twice = run(database_url, "rebuild", "--shares", "2")

    assert twice.returncode == 0, twice.stderr
    found = REBUILT.match(twice.stdout.splitlines()[-1])
    assert found, twice.stdout
    position, figures = read_model(database_url)
    assert int(found[1]) == position == before[0] > 0
    assert figures == before[1] and len(figures) > 20
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM plans WHERE id = %s AND valid_to IS NULL", (plan,)).fetchone()
    assert row == (1,)


def test_a_share_count_below_one_is_refused_and_the_read_model_left_as_it_was(database_url: str) -> None:
    imported = run(database_url, "import", str(DEMO), "--actor", ACTOR)
    assert imported.returncode == 0, imported.stderr
    assert run(database_url, "rebuild").returncode == 0
    before = read_model(database_url)

    refused = run(database_url, "rebuild", "--shares", "0")

    assert refused.returncode == 2
    assert "--shares: 0 is not a positive whole number" in refused.stderr
    assert read_model(database_url) == before
