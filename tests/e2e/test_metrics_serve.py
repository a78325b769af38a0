"""`serve`'s metrics: two web workers, the projector and the webhook dispatcher, reported as one service."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from service.auth.tokens import create_token
from tests.e2e import documents as doc
from tests.e2e.given import a_plan, criminal_damage
from tests.e2e.live import GraphQLClient
from tests.e2e.processes import free_port, interrupt, wait_until_serving
from tests.e2e.test_metrics import CREATE_WEBHOOK, PARTNERSHIP, Samples, parse, recorded, scrape, value
from tests.receiver import Receiver

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180, func_only=True)]  # runs `measure-ledger serve`

CLI = Path(sys.executable).with_name("measure-ledger")
REQUESTS = 12


@pytest.fixture
def served(database_url: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """`measure-ledger serve --workers 2` with its metrics also on a port of their own; yields both URLs."""
    port, metrics_port = free_port(), free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "ML_METRICS_PORT": str(metrics_port),
        "ML_DATA_DIR": str(tmp_path),
        "ML_WEBHOOK_ALLOW_HOSTS": "127.0.0.1",
        "ML_WEBHOOK_POLL_SECONDS": "0.5",
    }
    log = (tmp_path / "serve.log").open("w")
    process = subprocess.Popen(
        [str(CLI), "serve", "--port", str(port), "--workers", "2"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(url, process, (tmp_path / "serve.log"))
        yield url, f"http://127.0.0.1:{metrics_port}"
    finally:
        interrupt(process)
        log.close()


def until(url: str, settled: Callable[[Samples], bool], timeout: float = 30) -> Samples:
    """Scrapes the metrics port until `settled`: each process samples its state every few seconds."""
    deadline = time.monotonic() + timeout
    while True:
        samples = parse(httpx.get(url + "/metrics", timeout=10).text)
        if settled(samples) or time.monotonic() > deadline:
            return samples
        time.sleep(0.5)


def test_a_scrape_of_any_worker_reports_the_whole_service(served: tuple[str, str], database_url: str) -> None:
    url, metrics_url = served
    token = create_token(database_url, "ops@stockton.gov.uk")
    client = GraphQLClient(url, token)
    plan_id = a_plan(client)
    for _ in range(REQUESTS):
        # A new connection each time, so that the two workers share them.
        client.execute("query Twice($id: ID!) { plan(id: $id) { id } }", {"id": plan_id})

    for _ in range(4):  # whichever worker answers, the counts are the service's
        samples = scrape(url, token)
        assert value(samples, "ml_graphql_requests_total", operation="Twice", outcome="ok") == REQUESTS
        lookups = sum(value(samples, "ml_response_cache_lookups_total", result=r) for r in ("hit", "miss"))
        assert lookups == REQUESTS

    def settled(samples: Samples) -> bool:
        return value(samples, "ml_projection_leader") == value(samples, "ml_webhook_dispatcher_leader") == 1 and value(
            samples, "ml_projection_position"
        ) == recorded(database_url)

    # The port of their own needs no token. The projector and the dispatcher lead in processes of their own,
    # and the two workers stand by.
    samples = until(metrics_url, settled)
    assert value(samples, "ml_projection_leader") == value(samples, "ml_webhook_dispatcher_leader") == 1
    assert value(samples, "ml_projection_led") == value(samples, "ml_webhook_dispatcher_led") == 1
    assert value(samples, "ml_projection_position") == value(samples, "ml_ledger_position") == recorded(database_url)
    assert value(samples, "ml_graphql_requests_total", operation="Twice", outcome="ok") == REQUESTS
    # Two web processes' pools, each of ML_POOL_SIZE.
    assert value(samples, "ml_db_pool_max_connections", pool="primary") == 20
    memory = [v for (name, _), v in samples.items() if name == "ml_process_resident_memory_bytes"]
    assert len(memory) == 4 and min(memory) > 1_000_000  # two workers, the projector, the dispatcher


def test_deliveries_made_by_the_dispatcher_process_are_counted(
    served: tuple[str, str], database_url: str, receiver: Receiver
) -> None:
    url, metrics_url = served
    admin = GraphQLClient(url, create_token(database_url, "admin@stockton.gov.uk", partnership=PARTNERSHIP))
    measure = criminal_damage(admin, a_plan(admin, PARTNERSHIP))
    made = admin.execute(CREATE_WEBHOOK, {"input": {"url": receiver.url("serve"), "kinds": ["STATUS_CHANGED"]}})
    receiver.trust("serve", made["createWebhook"]["secret"])
    admin.execute(
        doc.OVERRIDE_STATUS,
        {"input": {"measureId": measure["id"], "quarter": "Q1", "status": "OFF_TRACK", "reason": "data late"}},
    )
    receiver.wait_for("serve", 1)
    # Sent by `measure-ledger deliver`, a process of its own: counted in the folder every process writes to.
    samples = until(metrics_url, lambda s: value(s, "ml_webhook_deliveries_total", outcome="delivered") >= 1)
    assert value(samples, "ml_webhook_deliveries_total", outcome="delivered") >= 1
    assert value(samples, "ml_webhook_delivery_duration_seconds_count") >= 1
