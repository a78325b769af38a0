"""Benchmark: time travel and the audit trail read indexed tables, never a replay.

(a) `measure(id, asOf)` for a measure with 1,000 revisions of one figure
    against a measure with one, through the real service over HTTP; target:
    within 1.5x.
(b) the first page of `auditTrail(filter: {actor})` over a ledger of a million
    entries; target: p99 under 50 ms. The million are synthetic rows written
    straight into `audit_entries` with generate_series (the table the query
    reads), besides the real events of the actors queried.

Run: .venv/bin/python -m bench.audit   (DATABASE_URL names the server, default
postgresql://postgres@127.0.0.1:5432/test; a fresh database is made and dropped.)
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any

import asyncpg
import httpx
import psycopg

from bench.generate import definition_of
from bench.server import fresh_database, percentile, uvicorn_process
from domain.commands import AddTheme, CreatePlan, DefineMeasure, SetBaseline, SubmitFigure
from domain.ledger import Ledger, Request
from domain.values import Quarter, parse_amount
from projections.ledger_store.event_store import open_ledger
from projections.read_model_tables import DDL
from projections.runner import catch_up_if_leader
from service import audit_trail
from service.auth.tokens import create_token
from service.pools import asyncpg_args
from service.settings import eventsourcing_env

OFFICER = Request("officer@stockton.gov.uk")
REVISIONS = 1000
SYNTHETIC = 1_000_000
SAMPLES = 200

AS_OF = """query($id: ID!, $asOf: DateTime) { measure(id: $id, asOf: $asOf) {
  status version components { key baseline { value } figures { quarter value comparisonValue change status revision } }
  quarters { quarter status computedStatus } } }"""
TRAIL = """query($actor: String!, $order: AuditOrder!, $first: Int) {
  auditTrail(filter: {actor: $actor, order: $order}, first: $first) {
    edges { cursor node { position recordedAt actor action measureNumber quarter field before after reason } }
    pageInfo { hasNextPage endCursor } } }"""


def record(ledger: Ledger) -> tuple[str, str]:
    """A plan with measure 5.1 (one figure, never revised) and 5.2 (one figure revised 999 times)."""
    plan = ledger.handle(
        CreatePlan(
            partnership="SSP",
            title="Bench plan",
            year="2012-13",
            period_start=date(2012, 4, 1),
            period_end=date(2013, 3, 31),
        ),
        OFFICER,
    )
    ledger.handle(AddTheme(plan.id, code="5", title="Criminal damage"), OFFICER)
    ids = []
    for number in ("5.1", "5.2"):
        definition = definition_of(number, [("total", "Total")])
        m = ledger.handle(DefineMeasure(plan.id, theme_code="5", number=number, definition=definition), OFFICER)
        ledger.handle(SetBaseline(m.id, "total", parse_amount("2472", None, None)), OFFICER)
        ledger.handle(SubmitFigure(m.id, "total", Quarter.Q2, parse_amount("995", None, None)), OFFICER)
        ids.append(str(m.id))
    # Revised on one loaded aggregate, saved every 100 revisions: loading it for each of a
    # thousand revisions would replay it a thousand times (the benchmark is of reads).
    measure = ledger.get_measure(uuid.UUID(ids[1]))
    for n in range(1, REVISIONS):
        value = parse_amount(str(995 + n % 300), None, None)
        measure.revise_figure("total", Quarter.Q2, value, reason=f"revision {n}", actor=OFFICER.actor)
        if n % 100 == 0 or n == REVISIONS - 1:
            ledger.save(measure)
    return ids[0], ids[1]


def timings(call: Callable[[], Any], samples: int = SAMPLES) -> list[float]:
    """Milliseconds per call, after a warm-up."""
    for _ in range(20):
        call()
    found = []
    for _ in range(samples):
        start = time.perf_counter()
        call()
        found.append((time.perf_counter() - start) * 1000)
    return found


def summary(ms: list[float]) -> tuple[float, float]:
    return statistics.median(ms), percentile(ms, 99)


def query(client: httpx.Client, document: str, variables: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/graphql", json={"query": document, "variables": variables})
    body: dict[str, Any] = response.json()
    assert response.status_code == 200 and "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


def bench_as_of(client: httpx.Client, one: str, many: str, moments: dict[str, str]) -> None:
    print(f"(a) measure(id, asOf) over HTTP, {SAMPLES} requests each (figures, statuses, baselines; not history)")
    for label, at in moments.items():
        results = {}
        for name, mid in (("1 revision", one), (f"{REVISIONS} revisions", many)):
            shown = query(client, AS_OF, {"id": mid, "asOf": at})["measure"]
            assert shown is not None
            variables = {"id": mid, "asOf": at}
            results[name] = summary(timings(partial(query, client, AS_OF, variables)))
            median, p99 = results[name]
            print(f"    asOf {label:<22} {name:<14} median {median:6.2f} ms   p99 {p99:6.2f} ms")
        (m1, p1), (mn, pn) = results.values()
        print(f"    ratio {REVISIONS} vs 1 revision: median {mn / m1:.2f}x, p99 {pn / p1:.2f}x (target within 1.5x)")


def fill_synthetic(database_url: str) -> float:
    """A million audit rows from 1,000 synthetic actors, after the real events' positions."""
    start = time.perf_counter()
    indexes = [statement for statement in DDL if statement.startswith("CREATE INDEX IF NOT EXISTS audit_entries")]
    with psycopg.connect(database_url) as conn:
        # Built once after the load rather than row by row during it.
        for statement in indexes:
            conn.execute(f"DROP INDEX {statement.split()[5]}")
        conn.execute(
            """INSERT INTO audit_entries (position, recorded_at, known_at, actor, action, plan_id, measure_id,
                                          measure_number, component, quarter, field, before, after, reason)
               SELECT 1000000 + n, timestamptz '2001-01-01Z' + n * interval '1 second',
                      timestamptz '2001-01-01Z' + n * interval '1 second', 'actor-' || (n %% 1000),
                      (ARRAY['FigureSubmitted', 'FigureRevised', 'CommentaryUpdated'])[1 + n %% 3],
                      gen_random_uuid(), gen_random_uuid(), '5.' || (n %% 40), 'total', 'Q' || (1 + n %% 4),
                      'figure', (n %% 5000)::text, (n %% 4999)::text, CASE WHEN n %% 3 = 1 THEN 'late' END
               FROM generate_series(1, %s) AS n""",
            (SYNTHETIC,),
        )
        for statement in indexes:
            conn.execute(statement)
        conn.execute("ANALYZE audit_entries")
    return time.perf_counter() - start


async def sql_timings(database_url: str, actor: str, newest_first: bool, first: int) -> list[float]:
    """The resolver's own query (service/audit_trail.py), timed in the database client alone."""
    pool = await asyncpg.create_pool(**asyncpg_args(database_url), min_size=1, max_size=1)
    try:
        chosen = audit_trail.Selection(actor=actor, newest_first=newest_first)
        found = []
        for n in range(SAMPLES + 20):
            start = time.perf_counter()
            rows, _ = await audit_trail.page(pool, chosen, None, first)
            if n >= 20:
                found.append((time.perf_counter() - start) * 1000)
        assert len(rows) == first
        return found
    finally:
        await pool.close()


def bench_trail(client: httpx.Client, database_url: str) -> None:
    cases = [
        ("officer@stockton.gov.uk", "real events: 1,008 entries"),
        ("actor-7", "synthetic: 1,000 entries spread over the million"),
    ]
    print(f"(b) auditTrail(filter: {{actor}}) first page over {SYNTHETIC + 1008:,} entries, {SAMPLES} requests each")
    for actor, what in cases:
        print(f"    {actor} ({what})")
        for order, first in (("OLDEST_FIRST", 50), ("NEWEST_FIRST", 50), ("OLDEST_FIRST", 500)):
            variables = {"actor": actor, "order": order, "first": first}
            assert len(query(client, TRAIL, variables)["auditTrail"]["edges"]) == first
            median, p99 = summary(timings(partial(query, client, TRAIL, variables)))
            sql_median, sql_p99 = summary(asyncio.run(sql_timings(database_url, actor, order == "NEWEST_FIRST", first)))
            verdict = "ok" if p99 < 50 else "OVER 50 ms"
            print(
                f"      {order:<12} first {first:<3}  HTTP median {median:6.2f} ms  p99 {p99:6.2f} ms [{verdict}]"
                f"   SQL median {sql_median:5.2f} ms  p99 {sql_p99:5.2f} ms"
            )


def main() -> None:
    began = time.perf_counter()
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} (other processes share them)")
    with fresh_database() as database_url:
        env = eventsourcing_env(database_url)
        ledger = open_ledger(env)
        try:
            before = datetime.now().astimezone()
            one, many = record(ledger)
            after = datetime.now().astimezone()
        finally:
            ledger.close()
        catch_up_if_leader(env)
        print(f"recorded and projected {REVISIONS + 8} events in {time.perf_counter() - began:.1f} s")
        token = create_token(database_url, "bench@example.org")
        with (
            uvicorn_process(database_url) as url,
            httpx.Client(base_url=url, headers={"authorization": f"Bearer {token}"}) as client,
        ):
            moments = {
                "now (all revisions)": (after + timedelta(seconds=1)).isoformat(),
                "halfway through them": (before + (after - before) / 2).isoformat(),
            }
            bench_as_of(client, one, many, moments)
            seconds = fill_synthetic(database_url)
            print(f"filled audit_entries with {SYNTHETIC:,} synthetic rows (generate_series) in {seconds:.1f} s")
            bench_trail(client, database_url)
    print(f"total {time.perf_counter() - began:.0f} s; load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
