"""A write the ledger has recorded is answered as recorded, with its position, even when its result cannot be
read: never INTERNAL, which a client without an idempotency key would retry, recording the change twice."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

from service.app import create_app
from service.auth.tokens import create_token
from service.settings import Settings
from tests.e2e import documents as doc
from tests.e2e.given import a_plan, criminal_damage
from tests.e2e.live import GraphQLClient, LiveServer


def served(database_url: str, **settings: Any) -> Iterator[GraphQLClient]:
    live = LiveServer(create_app(Settings(database_url=database_url, load_demo=False, **settings))).start()
    yield GraphQLClient(live.url, create_token(database_url, "alice@stockton.gov.uk"))
    live.stop()


@pytest.fixture
def impatient(database_url: str) -> Iterator[GraphQLClient]:
    """The service with a short wait for the read model to show a write."""
    yield from served(database_url, write_wait_seconds=1.0)


def events_at(database_url: str) -> Callable[[], list[int]]:
    def positions() -> list[int]:
        with psycopg.connect(database_url) as conn:
            return [row[0] for row in conn.execute("SELECT notification_id FROM ledger_events ORDER BY 1")]

    return positions


def as_dba(database_url: str, statement: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(statement)


def assert_committed(body: dict[str, Any], field: str, object_field: str, position: int) -> None:
    """The payload is there with the write's position, its object null, and a COMMITTED error at its path."""
    payload = body["data"][field]
    assert payload["position"] == position, body
    assert payload[object_field] is None, body
    assert body["errors"], body
    for error in body["errors"]:
        assert error["extensions"]["code"] == "COMMITTED", body
        assert error["path"][:2] == [field, object_field], body
        assert "do not send the write again" in error["message"], body


def test_a_write_the_read_model_does_not_show_in_time_is_answered_committed_with_its_position(
    database_url: str,
) -> None:
    # No process leads the projection: the read model never shows the write.
    for client in served(database_url, run_projection=False, write_wait_seconds=0.5):
        positions = events_at(database_url)

        response = client.post(
            doc.CREATE_PLAN,
            {
                "input": {
                    "partnership": "Safer Stockton Partnership",
                    "title": "Community Safety Plan 2012-13",
                    "year": "2012-13",
                    "periodStart": "2012-04-01",
                    "periodEnd": "2013-03-31",
                }
            },
        )

        assert response.status_code == 200, response.text
        body = response.json()
        [position] = positions()
        assert_committed(body, "createPlan", "plan", position)
        assert body["errors"][0]["extensions"]["position"] == position


@pytest.mark.parametrize("table", ["measures", "figures"])
def test_a_write_whose_result_cannot_be_read_is_answered_committed_and_recorded_once(
    impatient: GraphQLClient, database_url: str, table: str
) -> None:
    measure_id = criminal_damage(impatient, a_plan(impatient))["id"]
    positions = events_at(database_url)
    before = positions()
    as_dba(database_url, f"ALTER TABLE {table} RENAME TO {table}_away")
    try:
        response = impatient.post(
            doc.SUBMIT_FIGURE,
            {"input": {"measureId": measure_id, "component": "total", "quarter": "Q1", "value": "492"}},
        )
    finally:
        as_dba(database_url, f"ALTER TABLE {table}_away RENAME TO {table}")

    assert response.status_code == 200, response.text
    body = response.json()
    new = [p for p in positions() if p not in before]
    assert len(new) == 1, body
    [position] = new
    assert_committed(body, "submitFigure", "measure", position)
    # The projection, stopped by the missing table meanwhile, catches up: the figure is there, recorded once.
    deadline = time.monotonic() + 30
    while not (figures := q1_figures(impatient, measure_id)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert [(f["value"], f["revision"]) for f in figures] == [("492", 1)]
    assert positions() == [*before, position]


def q1_figures(client: GraphQLClient, measure_id: str) -> list[dict[str, Any]]:
    measure = client.execute(doc.MEASURE, {"id": measure_id})["measure"]
    return [f for f in measure["components"][0]["figures"] if f["quarter"] == "Q1"]
