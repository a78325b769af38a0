"""Every performance figure and its target in one table, from one fresh database.

    python -m bench                      # --size small (default, a few minutes) | medium | national

DATABASE_URL names the PostgreSQL server (default postgresql://postgres@127.0.0.1:5432/test); a fresh
database is made and dropped. The HTTP load comes from `python -m bench.load` in its own process.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any
from uuid import UUID

import httpx
import psycopg

from bench import audit
from bench.generate import SIZES, Size, actor, definition_of, generate
from bench.latency import DASHBOARD
from bench.server import BIN, free_port, fresh_database, percentile, projector_pid, uvicorn_process
from domain.commands import ReviseFigure, SubmitFigure
from domain.ledger import Ledger, Request
from domain.measure import Measure
from domain.plan import Plan
from domain.rules import DEFAULT_DISCREPANCY_THRESHOLD
from domain.values import Quarter, parse_amount
from projections.catch_up import BATCH
from projections.ledger_store.chain import catch_up_chain, open_chain
from projections.persistence import ConcurrentLedger
from projections.rebuild import SHARE_FROM, default_shares, rebuild
from projections.runner import catch_up_if_leader
from service.auth.tokens import create_token
from service.settings import eventsourcing_env

BENCH = Request("bench@example.org")
HISTORY_REVISIONS = 100
MEASURE = """query($id: ID!) { measure(id: $id) { id number title direction basis tolerance unit status version
  components { key label baseline { value numerator denominator period note isReset }
    figures { quarter value numerator denominator available unavailableReason comparisonValue change
              reportedChange discrepancy status commentary revision recordedAt recordedBy } }
  quarters { quarter status computedStatus override { status reason } commentary
             components { key figure { value change status } } }
  history { position recordedAt actor action component quarter field before after reason } } }"""
SUBMIT = (
    """mutation($input: SubmitFigureInput!) { submitFigure(input: $input) { position measure { status version } } }"""
)


@dataclass
class Row:
    figure: str
    median: float | None
    p99: float | None = None
    reference: float | None = None
    target: str = "-"
    met: bool | None = None

    @property
    def ratio(self) -> float | None:
        return None if self.median is None or not self.reference else self.median / self.reference


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}" if value < 1000 else f"{value:,.0f}"


def print_table(rows: list[Row]) -> None:
    print(f"| {'figure':<48} | {'median':>9} | {'p99':>9} | {'reference':>9} | {'ratio':>6} | {'target':<17} | met? |")
    print(f"|{'-' * 50}|{'-' * 11}|{'-' * 11}|{'-' * 11}|{'-' * 8}|{'-' * 19}|------|")
    for r in rows:
        met = "-" if r.met is None else "yes" if r.met else "NO"
        ratio = "-" if r.ratio is None else f"{r.ratio:.2f}"
        print(
            f"| {r.figure:<48} | {_num(r.median):>9} | {_num(r.p99):>9} | {_num(r.reference):>9} | {ratio:>6} "
            f"| {r.target:<17} | {met:<4} |"
        )


# -- the ledger and its read model ----------------------------------------------------------------


def read_alone(ledger: Ledger) -> float:
    """Events/s reading the whole store with the recorder and mapper alone: the rebuild's floor."""
    last = ledger.recorder.max_notification_id() or 0
    start, done, began = 1, 0, time.perf_counter()
    while start <= last:
        batch = ledger.recorder.select_notifications(start=start, limit=BATCH, stop=last)
        if not batch:
            break
        done += sum(1 for n in batch if ledger.mapper.to_domain_event(n) is not None)
        start = batch[-1].id + 1
    return done / (time.perf_counter() - began)


def _cpu_with_children() -> float:
    """CPU seconds of this process and of its children that have ended (a rebuild's shares)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def _progress(position: int, last: int) -> None:
    sys.stderr.write(f"\rrebuild {position:,}/{last:,}")


def _plan(ledger: Ledger, title: str, measures: int, components: int) -> list[UUID]:
    """A plan of measures with baselines and no figures: free slots for submitFigure."""
    plan = Plan.create(
        partnership="Bench",
        title=title,
        year="2012-13",
        period_start=datetime(2012, 4, 1).date(),
        period_end=datetime(2013, 3, 31).date(),
        discrepancy_threshold=DEFAULT_DISCREPANCY_THRESHOLD,
        actor=BENCH.actor,
    )
    plan.add_theme(code="1", title="Theme", actor=BENCH.actor)
    found = []
    for n in range(measures):
        definition = definition_of(f"1.{n + 1}", [(f"c{i}", f"C{i}") for i in range(components)])
        m = Measure.define(
            plan_id=plan.id,
            theme_code="1",
            number=f"1.{n + 1}",
            definition=definition,
            discrepancy_threshold=plan.discrepancy_threshold,
            actor=BENCH.actor,
        )
        for i in range(components):
            m.set_baseline(f"c{i}", parse_amount("1000", None, None), actor=BENCH.actor)
        found.append(m)
    ledger.save(plan, *found)
    return [m.id for m in found]


# Measures per submitFigure client, 16 free slots each (4 components x 4 quarters): more than a client
# gets through in a run's seconds at 1,000 writes/s, so each run lasts its seconds, as the reads' runs do,
# rather than ending after a second of warm-up with every measure's first write a cold one.
WRITE_MEASURES = 64
DASHBOARD_SHAPE = (50, 3)  # the issue's dashboard: one plan of 50 measures x 3 components x 4 quarters


def dashboard_plan(ledger: Ledger) -> UUID:
    """A plan of 50 measures x 3 components with a figure in every quarter and commentary: what a dashboard shows."""
    measures, components = DASHBOARD_SHAPE
    ids = _plan(ledger, "Bench dashboard", measures, components)
    found = [ledger.get_measure(mid) for mid in ids]
    for n, m in enumerate(found):
        for q in Quarter:
            for i in range(components):
                # Pro rata the baseline of 1,000 is 250 a quarter: values either side give every status.
                value = 200 * q.number + (n * 37 + i * 53 + q.number * 11) % 180
                m.submit_figure(f"c{i}", q, parse_amount(str(value), None, None), actor=BENCH.actor)
            m.update_commentary(q, f"Quarter {q.value} of measure {n + 1}: on course, with a note.", actor=BENCH.actor)
    ledger.save(*found)
    return found[0].plan_id


def history_measure(ledger: Ledger) -> UUID:
    """A measure whose one figure was revised until it has HISTORY_REVISIONS revisions."""
    (mid,) = _plan(ledger, "Bench history", 1, 1)
    m = ledger.get_measure(mid)
    m.submit_figure("c0", Quarter.Q1, parse_amount("900", None, None), actor=BENCH.actor)
    for n in range(1, HISTORY_REVISIONS):
        m.revise_figure("c0", Quarter.Q1, parse_amount(str(900 + n), None, None), reason=f"r{n}", actor=BENCH.actor)
    ledger.save(m)
    return mid


def submit_in_process(ledger: Ledger, measures: list[UUID]) -> list[float]:
    """ms per load, submit_figure, save of the same kind of event, in this process."""
    found = []
    for mid in measures:
        for q in Quarter:
            for c in ("c0", "c1", "c2", "c3"):
                began = time.perf_counter()
                ledger.handle(SubmitFigure(mid, c, q, parse_amount("950", None, None)), BENCH)
                found.append((time.perf_counter() - began) * 1000)
    return found


def lag(ledger: Ledger, database_url: str, measures: list[UUID], samples: int = 100) -> list[float]:
    """ms from a write's commit (save returned) until the read model's tracked position reaches it."""
    found = []
    with psycopg.connect(database_url, autocommit=True) as conn:
        for n in range(samples):
            mid = measures[n % len(measures)]
            w = ledger.handle(
                ReviseFigure(mid, "c0", Quarter.Q1, parse_amount(str(960 + n), None, None), reason="lag"), BENCH
            )
            committed = time.perf_counter()
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                row = conn.execute(
                    "SELECT notification_id FROM current_state_tracking WHERE application_name = 'ledger'"
                ).fetchone()
                if row and row[0] >= (w.position or 0):
                    break
                time.sleep(0.0005)
            found.append((time.perf_counter() - committed) * 1000)
            time.sleep(0.02)
    return found


# -- HTTP -----------------------------------------------------------------------------------------


@contextmanager
def reference_process(database_url: str) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url}
    args = ["bench.reference_app:create_app", "--factory", "--port", str(port), "--log-level", "warning"]
    process = subprocess.Popen([str(BIN / "uvicorn"), *args, "--no-access-log"], env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                httpx.get(f"{url}/measure/{UUID(int=0)}", timeout=2)
                break
            except httpx.TransportError:
                if process.poll() is not None:
                    raise RuntimeError("the reference app did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(20)


def service_pid(base: str, app: bytes = b"service.app:create_app") -> int | None:
    port = base.rsplit(":", 1)[1]
    for entry in os.listdir("/proc"):
        try:
            cmdline = open(f"/proc/{entry}/cmdline", "rb").read().split(b"\0")  # noqa: SIM115
        except OSError:
            continue
        if app in cmdline and port.encode() in cmdline:
            return int(entry)
    return None


def cpu_seconds(pid: int | None) -> float:
    """A process's user + system CPU so far (0 if it cannot be read)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, TypeError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def vm_rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        kib = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    return kib / 1024


def load(
    base: str,
    clients: list[list[dict[str, Any]]],
    *,
    repeat: bool,
    seconds: float,
    token: str = "",
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {"base": base, "headers": {"authorization": f"Bearer {token}"} if token else {}}
    spec["headers"] |= headers or {}
    spec |= {"clients": clients, "repeat": repeat, "seconds": seconds}
    done = subprocess.run(
        [sys.executable, "-m", "bench.load"],
        input=json.dumps(spec),
        capture_output=True,
        text=True,
        timeout=seconds + 120,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    result: dict[str, Any] = json.loads(done.stdout)
    if result["errors"]:
        print(f"  {result['errors']} errors; first: {result['first_error']}", file=sys.stderr)
    result["rps"] = len(result["latencies_ms"]) / result["wall"]
    return result


def compare(name: str, ours: dict[str, Any], ref: dict[str, Any], notes: list[str]) -> list[Row]:
    lat, ref_lat = ours["latencies_ms"], ref["latencies_ms"]
    notes.append(
        f"{name}: load generator used {ours['cpu']:.1f} s CPU in {ours['wall']:.1f} s"
        f" ({ours['cpu'] / ours['wall']:.0%} of a core) against the service,"
        f" {ref['cpu']:.1f} s in {ref['wall']:.1f} s against the reference"
    )
    return [
        Row(f"{name}, requests/s", ours["rps"], None, ref["rps"], ">= 0.25 x ref", ours["rps"] >= 0.25 * ref["rps"]),
        Row(f"{name}, latency ms", statistics.median(lat), percentile(lat, 99), statistics.median(ref_lat)),
    ]


GZIP = {"accept-encoding": "gzip"}


def cached_dashboard(
    database_url: str, plan_id: str, dash: list[dict[str, Any]], token: str, args: argparse.Namespace, notes: list[str]
) -> list[Row]:
    """The same dashboard from a service with the response cache on, against the plain and the SQL-built routes.

    Nothing is written meanwhile, so after the first request every one is a hit: what the cache saves is all
    of execution, leaving authentication and one validating round trip (service/response_cache.py). The cached
    dashboard is asked for as it is and compressed (Accept-Encoding: gzip, as browsers ask); the references as
    they are. The sides are measured in turn, each twice, in an order and its reverse, and each side's runs
    summed, so that a load on the machine that rises or falls steadily during the runs weighs on all alike.
    """
    env = {"ML_LOAD_DEMO": "0", "ML_RESPONSE_CACHE": "1", "ML_RUN_PROJECTION": "0"}
    ref_dash = [{"method": "GET", "path": f"/dashboard/{plan_id}"}]
    sql_dash = [{"method": "GET", "path": f"/dashboard-sql/{plan_id}"}]
    with uvicorn_process(database_url, extra_env=env) as cached, reference_process(database_url) as ref:
        sides: dict[str, Any] = {
            "ref": partial(load, ref, [ref_dash] * args.clients),
            "sql": partial(load, ref, [sql_dash] * args.clients),
            "cached": partial(load, cached, [dash] * args.clients, token=token),
            "gzip": partial(load, cached, [dash] * args.clients, token=token, headers=GZIP),
        }
        load(cached, [dash] * 2, repeat=True, seconds=2, token=token)  # warm-up
        load(ref, [ref_dash] * 2, repeat=True, seconds=2)
        load(ref, [sql_dash] * 2, repeat=True, seconds=2)
        runs: dict[str, list[dict[str, Any]]] = {side: [] for side in sides}
        # The servers' own CPU per request, beside the generator's: with two cores shared by the load generator,
        # the server and PostgreSQL, requests/s can be the generator's limit rather than the server's.
        ref_pid, cached_pid = service_pid(ref, b"bench.reference_app:create_app"), service_pid(cached)
        pids = {"ref": ref_pid, "sql": ref_pid, "cached": cached_pid, "gzip": cached_pid}
        server_cpu = dict.fromkeys(sides, 0.0)
        order = list(sides)
        for side in (*order, *reversed(order)):
            before = cpu_seconds(pids[side])
            runs[side].append(sides[side](repeat=True, seconds=args.seconds))
            server_cpu[side] += cpu_seconds(pids[side]) - before
        stats = httpx.get(f"{cached}/health", timeout=10).json().get("responseCache", {})

    def total(found: list[dict[str, Any]]) -> tuple[float, list[float], float, float]:
        latencies = [ms for r in found for ms in r["latencies_ms"]]
        wall, cpu = sum(r["wall"] for r in found), sum(r["cpu"] for r in found)
        return len(latencies) / wall, latencies, wall, cpu

    summed = {side: total(found) for side, found in runs.items()}
    rps, lat, wall, cpu = summed["cached"]
    ref_rps, ref_lat, ref_wall, ref_cpu = summed["ref"]
    sql_rps, sql_lat = summed["sql"][:2]
    gzip_rps, gzip_lat, gzip_wall, gzip_cpu = summed["gzip"]

    def per_request(side: str) -> str:
        return f"{1000 * server_cpu[side] / max(1, len(summed[side][1])):.2f} ms"

    notes.append(
        f"dashboard, response cache on (runs in turn: reference, SQL-built, cached, cached compressed, and back):"
        f" load generator used {cpu:.1f} s CPU in {wall:.1f} s against the service, {gzip_cpu:.1f} s in"
        f" {gzip_wall:.1f} s compressed, {ref_cpu:.1f} s in {ref_wall:.1f} s against the reference;"
        f" cache {stats.get('hits', 0):,} hits, {stats.get('misses', 0):,} misses; server CPU per request"
        f" {per_request('cached')} with the cache, {per_request('gzip')} compressed, reference route"
        f" {per_request('ref')}, SQL-built route {per_request('sql')} (PostgreSQL's not counted: 2 statements a"
        f" hit, 7 for the reference, 1 for the SQL-built route)"
    )
    return [
        Row("dashboard, response cache on, requests/s", rps, None, ref_rps, ">= 2 x ref", rps >= 2 * ref_rps),
        Row(
            "dashboard, response cache on, latency ms",
            statistics.median(lat),
            percentile(lat, 99),
            statistics.median(ref_lat),
        ),
        Row(
            "dashboard, cached, gzip, req/s (ref: SQL-built)",
            gzip_rps,
            None,
            sql_rps,
            ">= 10 x SQL",
            gzip_rps >= 10 * sql_rps,
        ),
        Row(
            "dashboard, cached, gzip, latency ms (ref: SQL)",
            statistics.median(gzip_lat),
            percentile(gzip_lat, 99),
            statistics.median(sql_lat),
        ),
    ]


def against_sql(
    http: httpx.Client, ref: str, plan_id: str, ours: dict[str, Any], args: argparse.Namespace, notes: list[str]
) -> list[Row]:
    """The uncached dashboard against the reference app's route that builds the same JSON inside PostgreSQL."""
    sql_dash = [{"method": "GET", "path": f"/dashboard-sql/{plan_id}"}]
    service = http.post("/graphql", json={"query": DASHBOARD, "variables": {"id": plan_id}}).json()
    built = httpx.get(f"{ref}/dashboard-sql/{plan_id}", timeout=30).json()
    same = "equal to" if built == service else "DIFFERENT from"
    notes.append(f"dashboard: the SQL-built route's JSON is {same} the service's ({len(json.dumps(built)):,} bytes)")
    load(ref, [sql_dash] * 2, repeat=True, seconds=2)  # warm-up
    sql = load(ref, [sql_dash] * args.clients, repeat=True, seconds=args.seconds)
    lat, sql_lat = ours["latencies_ms"], sql["latencies_ms"]
    rps = ours["rps"]
    return [
        Row(
            "dashboard, req/s (ref: SQL-built route)", rps, None, sql["rps"], ">= 0.35 x SQL", rps >= 0.35 * sql["rps"]
        ),
        Row(
            "dashboard, latency ms (ref: SQL-built route)",
            statistics.median(lat),
            percentile(lat, 99),
            statistics.median(sql_lat),
        ),
    ]


def subscribers(count: int) -> Row:
    if count <= 0:
        return Row("1,000 subscribers: delivery ms (not run)", None, None, None, "p99 <= 250 ms")
    done = subprocess.run(
        [sys.executable, "-m", "bench.subscribers", "--subscribers", str(count)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    found = re.search(r"delivery latency from the event's recordedAt, ms\s+([\d.]+)\s+([\d.]+)", done.stdout)
    if not found:
        print(done.stdout[-1500:], done.stderr[-1500:], file=sys.stderr)
        return Row(f"{count:,} subscribers: delivery ms (failed)", None, None, None, "p99 <= 250 ms")
    median, p99 = float(found.group(1)), float(found.group(2))
    return Row(f"{count:,} subscribers: delivery ms", median, p99, None, "p99 <= 250 ms", p99 <= 250)


def link_chain(ledger: Ledger, env: dict[str, str]) -> int:
    """Link the hash chain over every stored event, as the projection leader does while events arrive."""
    chain = open_chain(env)
    try:
        return catch_up_chain(ledger, chain)
    finally:
        chain.datastore.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=tuple(SIZES), default="small")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0, help="per HTTP load run")
    parser.add_argument("--subscribers", type=int, default=1000, help="0 skips the subscribers benchmark")
    args = parser.parse_args()
    size = Size(*SIZES[args.size])
    print(
        f"size {args.size}: {size.partnerships} partnerships x {size.measures} measures x {size.years} years; "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}"
    )
    rows: list[Row] = []
    notes: list[str] = []
    with fresh_database() as url:
        env = eventsourcing_env(url)
        # As the service runs it, so that the in-process reference for submitFigure writes as the service does.
        ledger = ConcurrentLedger(env=env)
        began = time.perf_counter()
        events = generate(ledger, size)
        print(f"generated {events:,} events in {time.perf_counter() - began:.1f} s")
        floor = read_alone(ledger)
        # A running ledger's chain is linked by the projection leader as events are stored (projections/
        # ledger_store/chain.py), so a rebuild there finds it linked; here the events were stored without a
        # leader, so they are linked first, outside the rebuild's figure, and that cost noted on its own.
        began, cpu = time.perf_counter(), _cpu_with_children()
        linked = link_chain(ledger, env)
        notes.append(
            f"hash chain: {linked:,} events linked in {time.perf_counter() - began:.1f} s before the rebuild,"
            f" {1e6 * (_cpu_with_children() - cpu) / max(1, linked):.0f} µs of CPU per event in this process"
        )
        began, cpu = time.perf_counter(), _cpu_with_children()
        rebuilt = rebuild(env, _progress)
        rate = rebuilt / (time.perf_counter() - began)
        cpu_per_event = 1e6 * (_cpu_with_children() - cpu) / max(1, rebuilt)
        sys.stderr.write("\n")
        # Machines differ (this one's speed has varied twofold between days): CPU per event tells slow code
        # from a slow machine, and compares with bench.rebuild_cpu's figures.
        notes.append(
            f"rebuild: {cpu_per_event:.0f} µs of CPU per event in this process and its shares' processes"
            f" ({default_shares() if rebuilt >= SHARE_FROM else 1} at this size; PostgreSQL's not counted);"
            f" the reference read {1e6 / floor:.0f} µs of wall-clock per event"
        )
        rows.append(Row(f"rebuild, events/s ({rebuilt:,} events)", rate, None, floor, ">= 10,000/s", rate >= 10_000))

        one, many = audit.record(ledger)
        as_of_now = (datetime.now().astimezone() + timedelta(seconds=1)).isoformat()
        with_history = history_measure(ledger)
        dashboard_plan_id = dashboard_plan(ledger)
        writes = _plan(ledger, "Bench writes", WRITE_MEASURES * (args.clients + 1), 4)
        in_process = _plan(ledger, "Bench in-process writes", 16, 4)
        catch_up_if_leader(env)
        token = create_token(url, "bench")
        fast = {"ML_MUTATION_RATE": "1000000", "ML_MUTATION_BURST": "1000000", "ML_LOAD_DEMO": "0"}
        # Every figure but one is of the service executing each request: the response cache off.
        uncached = {**fast, "ML_RESPONSE_CACHE": "0"}
        with uvicorn_process(url, extra_env=uncached) as base, reference_process(url) as ref:
            http = httpx.Client(base_url=base, timeout=30, headers={"authorization": f"Bearer {token}"})
            plan_id = str(dashboard_plan_id)
            dash = [{"method": "POST", "path": "/graphql", "json": {"query": DASHBOARD, "variables": {"id": plan_id}}}]
            ref_dash = [{"method": "GET", "path": f"/dashboard/{plan_id}"}]
            load(base, [dash] * 2, repeat=True, seconds=2, token=token)  # warm-up
            ours = load(base, [dash] * args.clients, repeat=True, seconds=args.seconds, token=token)
            pid, projector = service_pid(base), projector_pid(url)
            memory = vm_rss_mib(pid) if pid else None
            if projector:
                notes.append(
                    f"memory: the projector process beside the service held {vm_rss_mib(projector):.1f} MiB"
                    " (the projection's code and libraries, and its cache of recent measures and their rows)"
                )
            theirs = load(ref, [ref_dash] * args.clients, repeat=True, seconds=args.seconds)
            shape = f"{DASHBOARD_SHAPE[0]} measures x {DASHBOARD_SHAPE[1]} components"
            rows += compare(f"dashboard, one plan ({shape})", ours, theirs, notes)
            rows += against_sql(http, ref, plan_id, ours, args, notes)
            cached_row_at = len(rows)  # filled in below, once these processes have stopped

            mq = [
                {
                    "method": "POST",
                    "path": "/graphql",
                    "json": {"query": MEASURE, "variables": {"id": str(with_history)}},
                }
            ]
            ours = load(base, [mq] * args.clients, repeat=True, seconds=args.seconds, token=token)
            theirs = load(
                ref,
                [[{"method": "GET", "path": f"/measure/{with_history}"}]] * args.clients,
                repeat=True,
                seconds=args.seconds,
            )
            rows += compare(f"one measure + history ({HISTORY_REVISIONS} revisions)", ours, theirs, notes)

            per_client: list[list[dict[str, Any]]] = [[] for _ in range(args.clients + 1)]
            for n, mid in enumerate(writes):
                for q in Quarter:
                    for c in ("c0", "c1", "c2", "c3"):
                        variables = {
                            "input": {"measureId": str(mid), "component": c, "quarter": q.value, "value": "950"}
                        }
                        per_client[min(n // WRITE_MEASURES, args.clients)].append(
                            {"method": "POST", "path": "/graphql", "json": {"query": SUBMIT, "variables": variables}}
                        )
            server_before, projector_before = cpu_seconds(pid), cpu_seconds(projector)
            ours = load(base, per_client[:-1], repeat=False, seconds=args.seconds, token=token)
            writes = max(1, len(ours["latencies_ms"]))
            server_per_write = 1000 * (cpu_seconds(pid) - server_before) / writes
            projector_per_write = 1000 * (cpu_seconds(projector) - projector_before) / writes
            alone = load(base, per_client[-1:], repeat=False, seconds=args.seconds, token=token)
            inproc = submit_in_process(ledger, in_process)
            rows.append(
                Row(
                    f"submitFigure/s, {args.clients} clients (ref: in process)",
                    ours["rps"],
                    None,
                    1000 / statistics.mean(inproc),
                )
            )
            for name, lat in ((f"{args.clients} clients", ours["latencies_ms"]), ("1 client", alone["latencies_ms"])):
                median = statistics.median(lat)
                figure, p99 = f"submitFigure ms, {name} (ref: in process)", percentile(lat, 99)
                rows.append(Row(figure, median, p99, statistics.median(inproc), "median <= 25 ms", median <= 25))
            notes.append(
                f"submitFigure: load generator used {ours['cpu']:.1f} s CPU in {ours['wall']:.1f} s; the service"
                f" process used {server_per_write:.2f} ms of CPU per write at {args.clients} clients, and the projector"
                f" process beside it {projector_per_write:.2f} ms (PostgreSQL's not counted)"
            )
            lags = lag(ledger, url, in_process)
            rows.append(
                Row(
                    "write-to-read-model lag ms",
                    statistics.median(lags),
                    percentile(lags, 99),
                    None,
                    "p99 <= 50 ms",
                    percentile(lags, 99) <= 50,
                )
            )

            one_ms = audit.timings(partial(audit.query, http, audit.AS_OF, {"id": one, "asOf": as_of_now}), 100)
            many_ms = audit.timings(partial(audit.query, http, audit.AS_OF, {"id": many, "asOf": as_of_now}), 100)
            ratio = statistics.median(many_ms) / statistics.median(one_ms)
            rows.append(
                Row(
                    "asOf ms, 1,000 revisions (ref: 1 revision)",
                    statistics.median(many_ms),
                    percentile(many_ms, 99),
                    statistics.median(one_ms),
                    "ratio <= 1.5",
                    ratio <= 1.5,
                )
            )
            trail = {"actor": actor(0), "order": "OLDEST_FIRST", "first": 50}
            trail_ms = audit.timings(partial(audit.query, http, audit.TRAIL, trail), 200)
            p99 = percentile(trail_ms, 99)
            rows.append(
                Row("auditTrail first page (50) ms", statistics.median(trail_ms), p99, None, "p99 <= 50 ms", p99 <= 50)
            )
            rows.append(
                Row(
                    "service VmRSS MiB after the dashboard runs",
                    memory,
                    None,
                    None,
                    "<= 300 MB",
                    None if memory is None else memory * 1.048576 <= 300,
                )
            )
            http.close()
        # One service at a time: the database server's connections are shared (and limited).
        rows[cached_row_at:cached_row_at] = cached_dashboard(url, plan_id, dash, token, args, notes)
        ledger.close()
    rows.append(subscribers(args.subscribers))
    print(
        f"\nsize {args.size}: {events:,} generated events;"
        f" {args.clients} concurrent clients, {args.seconds:.0f} s a run"
    )
    print_table(rows)
    for note in notes:
        print(f"- {note}")


if __name__ == "__main__":
    main()
