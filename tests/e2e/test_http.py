"""GraphQL over HTTP as the GraphQL-over-HTTP specification asks, and a dashboard at a fixed cost."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from strawberry.dataloader import DataLoader

from service.schema import schema_sdl
from tests.e2e import documents as doc
from tests.e2e.given import a_plan, criminal_damage
from tests.e2e.live import GraphQLClient

ROOT = Path(__file__).resolve().parents[2]


def test_schema_graphql_is_the_schema_the_server_serves() -> None:
    assert (ROOT / "schema.graphql").read_text() == schema_sdl(), "run `measure-ledger schema --write`"


def test_clients_that_accept_graphql_response_json_get_it(client: GraphQLClient) -> None:
    response = client.post("{ plans { id } }", accept="application/graphql-response+json")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/graphql-response+json")
    assert response.json() == {"data": {"plans": []}}


def test_a_request_that_fails_validation_is_a_400_with_graphql_response_json(client: GraphQLClient) -> None:
    response = client.post("{ plans { nope } }", accept="application/graphql-response+json")

    assert response.status_code == 400
    body = response.json()
    assert "data" not in body
    assert body["errors"][0]["extensions"]["code"] == "VALIDATION"


def test_a_request_that_fails_validation_is_a_200_with_plain_json(client: GraphQLClient) -> None:
    response = client.post("{ plans { nope } }", accept="application/json")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["errors"][0]["extensions"]["code"] == "VALIDATION"


def test_a_field_error_during_execution_is_a_200_with_data(client: GraphQLClient) -> None:
    response = client.as_(None).post(
        doc.ADD_THEME,
        {"input": {"planId": "00000000-0000-0000-0000-000000000000", "code": "1", "title": "x"}},
        accept="application/graphql-response+json",
    )

    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_queries_can_be_sent_with_get(client: GraphQLClient) -> None:
    response = httpx.get(
        client.url + "/graphql",
        params={"query": "{ plans { id } }"},
        headers={"accept": "application/graphql-response+json", "authorization": f"Bearer {client.token}"},
    )

    assert response.status_code == 200
    assert response.json() == {"data": {"plans": []}}


@pytest.mark.parametrize("accept", ["application/graphql-response+json", "application/json"])
def test_a_mutation_sent_by_get_is_a_405_naming_post(client: GraphQLClient, accept: str) -> None:
    response = httpx.get(
        client.url + "/graphql",
        params={"query": 'mutation { addTheme(input: {planId: "x", code: "1", title: "t"}) { version } }'},
        headers={"accept": accept, "authorization": f"Bearer {client.token}"},
    )

    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.headers["content-type"].startswith(accept)
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "VALIDATION"
    assert "POST" in error["message"]


def test_graphiql_is_served_to_browsers(client: GraphQLClient) -> None:
    response = httpx.get(client.url + "/graphql", headers={"accept": "text/html"})

    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


def test_every_response_carries_a_request_id(client: GraphQLClient) -> None:
    assert len(client.post("{ plans { id } }").headers["x-request-id"]) == 16


def test_a_request_id_sent_by_the_client_is_the_one_answered(client: GraphQLClient) -> None:
    sent = "4bf92f3577b34da6a3ce929d0e0e4736"
    assert client.post("{ plans { id } }", **{"x-request-id": sent}).headers["x-request-id"] == sent
    # One a log line could not carry as it is gets an id of the service's own.
    for unusable in ("two words", "x" * 65, "<script>"):
        answered = client.post("{ plans { id } }", **{"x-request-id": unusable}).headers["x-request-id"]
        assert answered != unusable and len(answered) == 16


@pytest.fixture
def round_trips(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every statement the service sends through its asyncpg pool."""
    seen: list[str] = []
    for name in ("fetch", "fetchrow", "fetchval", "execute"):
        original = getattr(asyncpg.Pool, name)

        def counting(self: asyncpg.Pool, query: str, *args: Any, _original: Any = original, **kw: Any) -> Any:
            seen.append(query)
            return _original(self, query, *args, **kw)

        monkeypatch.setattr(asyncpg.Pool, name, counting)
    return seen


def test_the_dashboard_costs_the_same_round_trips_for_two_measures_or_twelve(
    client: GraphQLClient, round_trips: list[str]
) -> None:
    small, large = a_plan(client), a_plan(client)
    for n in range(2):
        criminal_damage(client, small, number=f"5.{n + 1}")
    for n in range(12):
        criminal_damage(client, large, number=f"5.{n + 1}")

    round_trips.clear()
    assert len(client.execute(doc.DASHBOARD, {"id": small})["plan"]["measures"]) == 2
    small_cost = len(round_trips)
    round_trips.clear()
    assert len(client.execute(doc.DASHBOARD, {"id": large})["plan"]["measures"]) == 12
    large_cost = len(round_trips)

    assert small_cost == large_cost
    # token, plan, themes, measures, components, baselines, figures, quarters; with the response cache
    # (on by default) the plan's last position before and after executing: a miss costs two more.
    assert large_cost <= 10, round_trips


def test_a_finished_request_keeps_none_of_the_rows_it_read(client: GraphQLClient) -> None:
    """Memory: a request's loaders and their rows are freed when it ends, not whenever the collector next runs.

    Execution leaves a request's objects in reference cycles; 16 concurrent dashboards of 50 measures held
    about 150 MiB of rows until a full collection (bench/__main__.py, the service's VmRSS).
    """
    plan = a_plan(client)
    criminal_damage(client, plan)
    gc.collect()
    gc.disable()  # only reference counting frees anything from here on
    try:
        before = {id(o) for o in gc.get_objects() if isinstance(o, DataLoader)}
        assert client.execute(doc.DASHBOARD, {"id": plan})["plan"]["measures"]
        kept = [o for o in gc.get_objects() if isinstance(o, DataLoader) and id(o) not in before]
    finally:
        gc.enable()

    assert kept == []
