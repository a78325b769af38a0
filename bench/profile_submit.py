"""Where a write's CPU goes: submitFigure from concurrent clients against a real uvicorn process.

    python -m bench.profile_submit                          # 16 writers, writes/s, latency, service CPU per write
    python -m bench.profile_submit --py-spy out.json        # ... under `py-spy record` (speedscope, all threads)
    python -m bench.profile_submit --workers 2              # two service processes sharing the store
    python -m bench.profile_submit --projector thread       # the projection in uvicorn's process, not its own
    python -m bench.profile_submit --rounds 3 --tree /tmp/a --tree /tmp/b   # A/B, interleaved, one database

Makes and drops a fresh database (DATABASE_URL names the server), generates the small ledger, and adds a
plan of measures with free slots, as `python -m bench` does for its submitFigure row: each client owns its
own measures and submits every component's figure in every quarter once (`--measures` measures a client,
16 writes each). The load comes from `bench.load` in its own process. The service is served as
`measure-ledger serve` serves it: uvicorn, and the projection (with the hash chain) in a projector process
of its own. CPU is read from /proc for both processes and their children (uvicorn's workers).
`--py-spy` records uvicorn's process only.

`--tree DIR` serves the code in DIR (a copy of this repository, same venv) instead of this one: a way to
compare two versions on the same database and machine, run in turn. Each round uses fresh measures.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import psycopg

from bench.__main__ import SUBMIT, _plan, cpu_seconds, load
from bench.generate import SIZES, Size, generate
from bench.server import BIN, free_port, fresh_database, percentile, uvicorn_started
from domain.ledger import Ledger
from domain.values import Quarter
from projections.runner import catch_up_if_leader, leaders
from service.auth.tokens import create_token
from service.projector import CHOICES, PROCESS, projector_process
from service.settings import eventsourcing_env

FAST = {"ML_MUTATION_RATE": "1000000", "ML_MUTATION_BURST": "1000000", "ML_LOAD_DEMO": "0", "ML_RESPONSE_CACHE": "0"}
COMPONENTS = ("c0", "c1", "c2", "c3")


def write_plan(measures: list[UUID], clients: int) -> list[list[dict[str, Any]]]:
    """Every free slot of `measures` as a submitFigure request, the measures dealt out to `clients`."""
    per_client: list[list[dict[str, Any]]] = [[] for _ in range(clients)]
    per = len(measures) // clients
    for n, mid in enumerate(measures[: per * clients]):
        for q in Quarter:
            for c in COMPONENTS:
                variables = {"input": {"measureId": str(mid), "component": c, "quarter": q.value, "value": "950"}}
                body = {"query": SUBMIT, "variables": variables}
                per_client[n // per].append({"method": "POST", "path": "/graphql", "json": body})
    return per_client


def process_tree(pid: int) -> list[int]:
    """`pid` and its descendants (uvicorn's workers, and their multiprocessing helpers)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo += children.get(p, [])
    return found


def backends(url: str) -> list[int]:
    """The PostgreSQL backends serving this database (the service's pools and listeners, once warm)."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return [int(r[0]) for r in rows]


def tree_cpu(pids: list[int]) -> float:
    return sum(cpu_seconds(p) for p in pids)


def kernel_cpu(pids: list[int]) -> float:
    """System (kernel) CPU seconds of `pids`: syscalls, thread wake-ups, context switches."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                total += int(f.read().rsplit(")", 1)[1].split()[12])
        except OSError:
            continue
    return total / os.sysconf("SC_CLK_TCK")


@contextmanager
def service(url: str, workers: int, tree: str | None, projector: str) -> Iterator[tuple[str, list[int]]]:
    """A uvicorn process serving the code in `tree` (default: this checkout), beside a projector process as
    `measure-ledger serve` starts one (unless `projector` is "thread"); yields its URL and the pids whose CPU
    a write costs."""
    port = free_port()
    env = dict(FAST)
    if tree:
        env["PYTHONPATH"] = str(Path(tree).resolve())
    previous = os.getcwd()
    with ExitStack() as stack:
        try:
            # uvicorn puts the working directory first on sys.path: run it from the tree to serve.
            if tree:
                os.chdir(tree)
            extra: list[int] = []
            if projector == PROCESS:
                extra.append(stack.enter_context(projector_process(url, env=env, output=subprocess.DEVNULL)).pid)
            process = stack.enter_context(
                uvicorn_started(url, port, extra_env=env, extra_args=("--workers", str(workers)))
            )
            os.chdir(previous)
            time.sleep(1.0 if workers > 1 else 0.2)  # every worker up, and the projection leading
            yield f"http://127.0.0.1:{port}", [process.pid, *extra]
        finally:
            os.chdir(previous)


@contextmanager
def py_spy(pid: int, output: str | None, rate: int) -> Iterator[None]:
    if not output:
        yield
        return
    # --gil: only the thread holding the GIL is sampled, which in this GIL-bound process is where the CPU goes
    # (py-spy's idle detection counts threads parked in Condition.wait). --nonblocking: stopping the process at
    # every sample (the default) cut it to a tenth of its throughput.
    command = [str(BIN / "py-spy"), "record", "-p", str(pid), "--threads", "--gil", "--nonblocking"]
    command += ["--rate", str(rate), "--format", "speedscope", "-o", output, "--subprocesses"]
    spy = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(1.0)  # attached
    try:
        yield
    finally:
        spy.send_signal(2)
        _, err = spy.communicate(timeout=60)
        if spy.returncode not in (0, -2):
            print(err.decode(errors="replace")[-1000:], file=sys.stderr)


def run(
    url: str, token: str, measures: list[UUID], args: argparse.Namespace, tree: str | None, label: str
) -> dict[str, Any]:
    plan = write_plan(measures, args.clients)
    with service(url, args.workers, tree, args.projector) as (base, roots):
        # A few writes first, so imports, pools and caches are warm: one measure's slots, from one client.
        warm_up, plan[0] = plan[0][:16], plan[0][16:]
        load(base, [warm_up], repeat=False, seconds=30, token=token)
        pids = [p for root in roots for p in process_tree(root)]
        # Backends opened during the run are missed: the pools are warm by now, so that is a few connections.
        database = backends(url)
        before, database_before, kernel_before = tree_cpu(pids), tree_cpu(database), kernel_cpu(pids)
        projector_before = tree_cpu(roots[1:])
        with py_spy(roots[0], args.py_spy, args.rate):
            result = load(base, plan, repeat=False, seconds=120, token=token)
        cpu = tree_cpu(pids) - before
        projector_cpu = tree_cpu(roots[1:]) - projector_before
        kernel = kernel_cpu(pids) - kernel_before
        database_cpu = tree_cpu(database) - database_before
        leading = leaders(url)
    lat = result["latencies_ms"]
    found = {
        "label": label,
        "writes": len(lat),
        "errors": result["errors"],
        "writes_s": result["rps"],
        "median_ms": statistics.median(lat),
        "p99_ms": percentile(lat, 99),
        "cpu_ms_per_write": 1000 * cpu / max(1, len(lat)),
        "projector_ms_per_write": 1000 * projector_cpu / max(1, len(lat)),
        "db_cpu_ms_per_write": 1000 * database_cpu / max(1, len(lat)),
        "kernel_share": kernel / cpu if cpu else 0.0,
        "load_cpu_s": result["cpu"],
        "wall_s": result["wall"],
        "leaders": leading,
    }
    print(
        f"{label:<12} {found['writes']:>5} writes ({found['errors']} errors) {found['writes_s']:7.1f} writes/s"
        f"  median {found['median_ms']:6.1f} ms  p99 {found['p99_ms']:6.1f} ms"
        f"  service CPU {found['cpu_ms_per_write']:.2f} ms/write ({found['kernel_share']:.0%} kernel;"
        f" the projector's {found['projector_ms_per_write']:.2f}),"
        f" PostgreSQL {found['db_cpu_ms_per_write']:.2f}"
        f"  (load generator {found['load_cpu_s']:.1f} s CPU in {found['wall_s']:.1f} s;"
        f" {len(pids)} service processes, {leading} projection leader)",
        flush=True,
    )
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=tuple(SIZES), default="small")
    parser.add_argument(
        "--database-url", help="an existing ledger to write to, its read model up to date (default: a fresh one)"
    )
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--measures", type=int, default=6, help="measures a client, 16 writes each, per round")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument(
        "--projector",
        choices=CHOICES,
        default=PROCESS,
        help="project in a process of its own, as `measure-ledger serve` does (default), or in uvicorn's",
    )
    parser.add_argument("--tree", action="append", help="serve the code in this directory (repeatable: A/B)")
    parser.add_argument("--py-spy", metavar="FILE", help="record the service with py-spy into FILE (speedscope)")
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples a second")
    args = parser.parse_args()
    trees: list[str | None] = list(args.tree or [None])
    print(
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; {args.clients} clients, {args.workers} workers"
    )
    results: list[dict[str, Any]] = []
    with ExitStack() as stack:
        url = args.database_url or stack.enter_context(fresh_database())
        env = eventsourcing_env(url)
        ledger = Ledger(env=env)
        try:
            if not args.database_url:
                generate(ledger, Size(*SIZES[args.size]), progress=False)
            rounds = [
                _plan(ledger, f"Writes {n} {uuid4().hex[:8]}", args.clients * args.measures, 4)
                for n in range(args.rounds * len(trees))
            ]
        finally:
            ledger.close()
        catch_up_if_leader(env)
        token = create_token(url, "bench")
        for n in range(args.rounds):
            for t, tree in enumerate(trees):
                label = tree or "this tree"
                results.append(run(url, token, rounds[n * len(trees) + t], args, tree, label[-12:]))
    if args.rounds > 1 or len(trees) > 1:
        print("\nmedians over rounds:")
        for tree in trees:
            label = (tree or "this tree")[-12:]
            mine = [r for r in results if r["label"] == label]
            print(
                f"{label:<12} {statistics.median(r['writes_s'] for r in mine):7.1f} writes/s"
                f"  median {statistics.median(r['median_ms'] for r in mine):6.1f} ms"
                f"  service CPU {statistics.median(r['cpu_ms_per_write'] for r in mine):.2f} ms/write"
                f", PostgreSQL {statistics.median(r['db_cpu_ms_per_write'] for r in mine):.2f}"
            )


if __name__ == "__main__":
    main()
