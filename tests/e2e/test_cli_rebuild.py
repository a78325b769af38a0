"""`measure-ledger rebuild` as an operator runs it: the read model replayed from the event store,
in one process or in several, and a bad option refused before anything is touched."""

from __future__ import annotations

import os
import re
import subprocess
import time
from typing import Any
from uuid import UUID

import psycopg
import pytest

from bench.generate import Size
from projections.runner import leaders
from service.auth.tokens import create_token
from tests.e2e.demo import DEMO
from tests.e2e.given import a_plan
from tests.e2e.live import GraphQLClient
from tests.e2e.test_cli_import import ACTOR, CLI, run
from tests.e2e.test_leadership import a_ledger
from tests.e2e.test_projector_process import _until, serving

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


MEASURES = "{ plans { id partnership title measures { number title status } } }"


def generated(plans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted((p for p in plans if p["partnership"].startswith("Partnership ")), key=lambda p: p["id"])


def test_rebuild_beside_a_running_service_keeps_reads_whole_and_writes_answered_and_hands_the_lead_back(
    database_url: str,
) -> None:
    a_ledger(database_url, Size(10, 20, 3))  # some 6,000 events
    client_token = create_token(database_url, "alice@stockton.gov.uk")
    with serving(database_url, ML_WRITE_WAIT_SECONDS="10", ML_RESPONSE_CACHE="0") as (url, _, _):
        client = GraphQLClient(url, client_token)
        before = generated(client.execute(MEASURES)["plans"])
        assert len(before) == 30 and all(len(p["measures"]) == 20 for p in before)

        rebuilding = subprocess.Popen(
            [str(CLI), "rebuild", "--shares", "2"],
            env={**os.environ, "DATABASE_URL": database_url},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        reads, written = 0, []
        deadline = time.monotonic() + 90
        try:
            while rebuilding.poll() is None:
                assert time.monotonic() < deadline, "the rebuild never finished beside the service"
                # Every read sees the whole read model, and every write is answered, while the rebuild runs.
                assert generated(client.execute(MEASURES)["plans"]) == before
                reads += 1
                if len(written) < 3:
                    written.append(a_plan(client))
            out, err = rebuilding.communicate(timeout=120)
        finally:
            if rebuilding.poll() is None:
                rebuilding.kill()
                rebuilding.communicate()

        assert rebuilding.returncode == 0, err
        assert REBUILT.match(out.splitlines()[-1]), out
        assert "beside the served one" in err and "swapped the new read model in" in err, err
        assert reads >= 2
        shown = client.execute(MEASURES)["plans"]
        assert generated(shown) == before
        assert set(written) <= {p["id"] for p in shown}
        # The service leads the projection again: a write made now is projected and shown.
        assert _until(lambda: leaders(database_url) == 1, 10)
        assert a_plan(client) in {p["id"] for p in client.execute(MEASURES)["plans"]}
        served = read_model(database_url)

    # What the service projected on top of the new read model is what a rebuild from scratch makes.
    assert run(database_url, "rebuild").returncode == 0
    assert read_model(database_url) == served
