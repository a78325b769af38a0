"""Apollo Client (tests/clients/package.json's pinned release) against a live service: its normalized cache
after a revision, and the automatic persisted queries' round trips as its PersistedQueryLink makes them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from service.auth.tokens import create_token
from tests.clients.npm import CLIENTS, ROOT, executable, run_node
from tests.conftest import DatabaseFactory
from tests.e2e import documents as doc
from tests.e2e.given import a_plan, criminal_damage
from tests.e2e.live import GraphQLClient, serving

# Node.js processes of their own, and a first `npm ci` of about a minute.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def operator(new_database: DatabaseFactory) -> Iterator[GraphQLClient]:
    database_url = new_database()
    with serving(database_url) as server:
        yield GraphQLClient(server.url, create_token(database_url, "operator@ledger.example"))


def apollo(node_modules: Path, tmp_path: Path, client: GraphQLClient, plan_id: str, measure_id: str) -> dict[str, Any]:
    """Run apollo_round_trip.mjs beside the installed packages; what it saw."""
    script = tmp_path / "apollo_round_trip.mjs"
    script.write_text((CLIENTS / "apollo_round_trip.mjs").read_text())
    (tmp_path / "node_modules").symlink_to(node_modules)
    args = [executable("node"), str(script), client.url, str(client.token), plan_id, measure_id]
    done = run_node([*args, str(ROOT / "examples" / "operations")], tmp_path)
    found: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def test_apollo_client_caches_a_revision_normalized_and_round_trips_persisted_queries(
    node_modules: Path, tmp_path: Path, operator: GraphQLClient
) -> None:
    plan_id = a_plan(operator)
    measure_id = criminal_damage(operator, plan_id)["id"]
    for quarter, value in (("Q1", "500"), ("Q2", "990")):
        figure = {"measureId": measure_id, "component": "total", "quarter": quarter, "value": value}
        operator.execute(doc.SUBMIT_FIGURE, {"input": figure})

    seen = apollo(node_modules, tmp_path, operator, plan_id, measure_id)

    # The revision's payload updated the measure's one cache entry: the dashboard shows it without a request.
    assert seen["before"] == "990"
    assert seen["fromCache"] == "1001"
    assert seen["fromNetwork"] == "1001"
    assert seen["normalized"] == [f"Measure:{measure_id}"]
    assert seen["marks"]["cacheRead"] == seen["marks"]["mutation"]
    requests = [(r["method"], r["hashed"], r["withQuery"], r["status"], r["code"]) for r in seen["requests"]]
    assert requests == [
        # The dashboard: its hash alone by GET, unknown; then the hash with the query by POST.
        ("GET", True, False, 200, "PERSISTED_QUERY_NOT_FOUND"),
        ("POST", True, True, 200, None),
        # The mutation, by POST always: the same two steps.
        ("POST", True, False, 200, "PERSISTED_QUERY_NOT_FOUND"),
        ("POST", True, True, 200, None),
        # The dashboard again from the network: its hash alone now runs it.
        ("GET", True, False, 200, None),
    ]
    assert seen["requests"][-1]["etag"]
