"""`/metrics`: the service's counters and state in Prometheus' text format, scraped over real HTTP.

The server here runs in the test's own process (one process: no multiprocess folder), so counters are read
as differences between two scrapes; test_metrics_serve.py scrapes `serve` with its processes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import httpx
import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from service.auth.tokens import create_token
from tests.e2e import documents as doc
from tests.e2e.given import a_plan, criminal_damage
from tests.e2e.live import GraphQLClient, LiveServer, local_webhooks, serving
from tests.e2e.test_subscriptions import STATUS_CHANGED
from tests.e2e.ws_client import graphql_ws
from tests.receiver import Receiver

pytestmark = pytest.mark.timeout(120, func_only=True)

PARTNERSHIP = "Safer Stockton Partnership"
DASHBOARD = "query Dashboard($id: ID!) { plan(id: $id) { id title } }"
CREATE_WEBHOOK = """mutation($input: CreateWebhookInput!) { createWebhook(input: $input) { secret webhook { id } } }"""

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    """Every sample of a scrape, by name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def scrape(url: str, token: str) -> Samples:
    response = httpx.get(url + "/metrics", headers={"authorization": f"Bearer {token}"}, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    return parse(response.text)


@pytest.fixture
def server(database_url: str) -> Iterator[LiveServer]:
    """The service, allowed to call a receiver on 127.0.0.1."""
    with serving(database_url, webhooks=local_webhooks()) as live:
        yield live


def recorded(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT max(notification_id) FROM ledger_events").fetchone()
        assert row is not None
        return int(row[0] or 0)


def test_metrics_need_a_token_with_the_admin_role(server: LiveServer, database_url: str) -> None:
    anonymous = httpx.get(server.url + "/metrics", timeout=10)
    assert anonymous.status_code == 401
    assert anonymous.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    viewer = create_token(database_url, "viewer@stockton.gov.uk", partnership=PARTNERSHIP, roles=["viewer"])
    refused = httpx.get(server.url + "/metrics", headers={"authorization": f"Bearer {viewer}"}, timeout=10)
    assert refused.status_code == 403
    assert refused.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    wrong = httpx.get(server.url + "/metrics", headers={"authorization": "Bearer mlt_nothing_here"}, timeout=10)
    assert wrong.status_code == 401
    admin = create_token(database_url, "admin@stockton.gov.uk", partnership=PARTNERSHIP, roles=["admin"])
    assert scrape(server.url, admin)


def test_metrics_count_operations_cache_projection_and_state(server: LiveServer, database_url: str) -> None:
    operator = create_token(database_url, "ops@stockton.gov.uk")
    client = GraphQLClient(server.url, operator)
    plan_id = a_plan(client)
    measure = criminal_damage(client, plan_id)
    before = scrape(server.url, operator)

    for _ in range(3):
        client.execute(DASHBOARD, {"id": plan_id})
    assert client.errors("query Broken { plan(id: 7) { id } }")[0]["extensions"]["code"] == "VALIDATION"
    assert (
        client.as_(None).errors("query Whose { auditDigest { position } }")[0]["extensions"]["code"]
        == "UNAUTHENTICATED"
    )
    client.execute(
        doc.OVERRIDE_STATUS,
        {"input": {"measureId": measure["id"], "quarter": "Q1", "status": "OFF_TRACK", "reason": "data late"}},
    )
    after = scrape(server.url, operator)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("ml_graphql_requests_total", operation="Dashboard", outcome="ok") == 3
    assert moved("ml_graphql_requests_total", operation="Broken", outcome="VALIDATION") == 1
    assert moved("ml_graphql_requests_total", operation="Whose", outcome="UNAUTHENTICATED") == 1
    assert moved("ml_graphql_request_duration_seconds_count", operation="Dashboard") == 3
    assert moved("ml_graphql_request_duration_seconds_sum", operation="Dashboard") > 0
    # The first Dashboard executes; the two after it are served from the response cache.
    assert moved("ml_response_cache_lookups_total", result="miss") == 1
    assert moved("ml_response_cache_lookups_total", result="hit") == 2
    assert value(after, "ml_response_cache_entries") >= 1

    # A mutation answers once the read model shows it: nothing waits, and both positions are the ledger's.
    assert value(after, "ml_projection_position") == value(after, "ml_ledger_position") == recorded(database_url)
    assert value(after, "ml_projection_events_behind") == 0
    assert value(after, "ml_projection_lag_seconds") == 0
    # This process runs the projection and the webhook dispatcher (no `serve` processes beside it).
    assert value(after, "ml_projection_leader") == value(after, "ml_projection_led") == 1
    assert value(after, "ml_webhook_dispatcher_leader") == value(after, "ml_webhook_dispatcher_led") == 1
    assert 1 <= value(after, "ml_db_pool_connections", pool="primary") <= 10
    assert value(after, "ml_db_pool_max_connections", pool="primary") == 10
    assert value(after, "ml_process_resident_memory_bytes") > 10_000_000
    assert value(after, "process_resident_memory_bytes") > 10_000_000


async def test_metrics_count_subscribers_and_their_buffers(server: LiveServer, database_url: str) -> None:
    operator = create_token(database_url, "ops@stockton.gov.uk")
    client = GraphQLClient(server.url, operator)
    plan_id = a_plan(client)
    ws_url = server.url.replace("http", "ws") + "/graphql"
    async with graphql_ws(ws_url, {"authorization": f"Bearer {operator}"}) as ws:
        await ws.subscribe("1", STATUS_CHANGED, {"planId": plan_id})
        samples = await wait_for(server.url, operator, "ml_subscribers", 1, feed="status_changes")
        assert value(samples, "ml_websocket_connections") >= 1
        assert value(samples, "ml_websocket_operations") >= 1
        assert value(samples, "ml_subscriber_buffered_messages", feed="status_changes") == 0
    await wait_for(server.url, operator, "ml_subscribers", 0, feed="status_changes")


def test_metrics_count_webhook_deliveries(server: LiveServer, database_url: str, receiver: Receiver) -> None:
    admin = GraphQLClient(server.url, create_token(database_url, "admin@stockton.gov.uk", partnership=PARTNERSHIP))
    plan_id = a_plan(admin, PARTNERSHIP)
    measure = criminal_damage(admin, plan_id)
    made = admin.execute(CREATE_WEBHOOK, {"input": {"url": receiver.url("metrics"), "kinds": ["STATUS_CHANGED"]}})
    receiver.trust("metrics", made["createWebhook"]["secret"])
    operator = create_token(database_url, "ops@stockton.gov.uk")
    before = scrape(server.url, operator)
    admin.execute(
        doc.OVERRIDE_STATUS,
        {"input": {"measureId": measure["id"], "quarter": "Q1", "status": "OFF_TRACK", "reason": "data late"}},
    )
    receiver.wait_for("metrics", 1)
    deadline = time.monotonic() + 30
    while True:
        after = scrape(server.url, operator)
        delivered = value(after, "ml_webhook_deliveries_total", outcome="delivered")
        if delivered - value(before, "ml_webhook_deliveries_total", outcome="delivered") >= 1:
            break
        assert time.monotonic() < deadline, "no delivery counted"
        time.sleep(0.1)
    assert value(after, "ml_webhook_delivery_duration_seconds_count") >= 1


async def wait_for(url: str, token: str, name: str, expected: float, **labels: str) -> Samples:
    """Scrapes until a gauge shows `expected` (a subscription joins its feed once its replay is done)."""
    deadline = time.monotonic() + 10
    async with httpx.AsyncClient(timeout=10) as http:
        while True:
            response = await http.get(url + "/metrics", headers={"authorization": f"Bearer {token}"})
            samples = parse(response.text)
            if value(samples, name, **labels) == expected:
                return samples
            assert time.monotonic() < deadline, f"{name}{labels}: {value(samples, name, **labels)}, not {expected}"
            await asyncio.sleep(0.05)


async def test_lag_is_read_from_the_time_the_oldest_waiting_event_was_recorded(database_url: str) -> None:
    """The lag when events wait: read here as if the read model stood at position 0."""
    import asyncpg

    from service import read_model
    from service.pools import asyncpg_args

    client_started = time.time()
    with serving(database_url) as live:
        a_plan(GraphQLClient(live.url, create_token(database_url, "ops@stockton.gov.uk")))
    await asyncio.sleep(0.2)
    pool = await asyncpg.create_pool(**asyncpg_args(database_url), min_size=1, max_size=1)
    try:
        age = await read_model.oldest_unprojected_age(pool, "ledger_events", 0)
        assert age is not None and 0.2 <= age <= time.time() - client_started
        assert await read_model.oldest_unprojected_age(pool, "ledger_events", recorded(database_url)) is None
    finally:
        await pool.close()
