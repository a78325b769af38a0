"""Dashboard query and mutation latency through a real uvicorn process, on the demo plan.

    python -m bench.latency            # DATABASE_URL names a PostgreSQL server (default: local 'test')

Sequential requests from one client: this measures latency, not throughput.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import httpx

from bench.server import fresh_database, percentile, uvicorn_process
from domain.ledger import Ledger
from service.auth.tokens import create_token
from service.plan_file import import_plan, load_plan_file
from service.settings import eventsourcing_env

DEMO = Path(__file__).resolve().parent.parent / "examples" / "community-safety-plan-2012-13.yaml"

DASHBOARD = """query($id: ID!) { plan(id: $id) { id title themes { code title } measures {
  id number title direction basis tolerance unit status version
  components { key label baseline { value numerator denominator period note isReset }
    figures { quarter value numerator denominator available unavailableReason comparisonValue change
              reportedChange discrepancy status commentary revision recordedAt recordedBy } }
  quarters { quarter status computedStatus override { status reason } commentary
             components { key figure { value change status } } } } } }"""

REVISE = """mutation($input: ReviseFigureInput!) { reviseFigure(input: $input) {
  position measure { status version components { figures { quarter value change status } } } } }"""


def timed(client: httpx.Client, body: dict[str, object], token: str | None = None) -> float:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    started = time.perf_counter()
    response = client.post("/graphql", json=body, headers=headers)
    elapsed = time.perf_counter() - started
    data = response.json()
    assert response.status_code == 200 and "errors" not in data, data
    return elapsed * 1000


def wait_for_read_model(client: httpx.Client, position: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while client.get("/health").json()["position"] < position:
        if time.monotonic() > deadline:
            raise RuntimeError("the read model did not catch up")
        time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--mutations", type=int, default=200)
    args = parser.parse_args()
    with fresh_database() as url:
        ledger = Ledger(env=eventsourcing_env(url))
        report = import_plan(ledger, load_plan_file(DEMO), actor="bench")
        last = ledger.recorder.max_notification_id() or 0
        ledger.close()
        token = create_token(url, "bench")
        auth = {"authorization": f"Bearer {token}"}
        with uvicorn_process(url) as base, httpx.Client(base_url=base, timeout=30, headers=auth) as client:
            wait_for_read_model(client, last)
            plans = client.post("/graphql", json={"query": "{ plans { id measures { id number } } }"}).json()
            plan = plans["data"]["plans"][0]
            measure_id = next(m["id"] for m in plan["measures"] if m["number"] == "5.1")
            dashboard = {"query": DASHBOARD, "variables": {"id": plan["id"]}}
            for _ in range(20):
                timed(client, dashboard)
            queries = [timed(client, dashboard) for _ in range(args.queries)]
            mutations = []
            for i in range(args.mutations):
                value = str(995 + i % 7)
                variables = {
                    "input": {
                        "measureId": measure_id,
                        "component": "criminal-damage",
                        "quarter": "Q2",
                        "value": value,
                        "reason": f"bench revision {i}",
                    }
                }
                mutations.append(timed(client, {"query": REVISE, "variables": variables}, token))
    print(f"demo plan: {len(plan['measures'])} measures, {report.events_recorded} events")
    print(f"{'figure':<44} {'median':>9} {'p99':>9} {'n':>5}")
    for name, samples in (
        ("dashboard query (whole demo plan), ms", queries),
        ("reviseFigure, payload after its write, ms", mutations),
    ):
        print(f"{name:<44} {statistics.median(samples):>9.1f} {percentile(samples, 99):>9.1f} {len(samples):>5}")


if __name__ == "__main__":
    main()
