"""CPU per event of `projections.rebuild.rebuild`, by thread (with --shares 1), and of the PostgreSQL
backends serving it.

    python -m bench.rebuild_cpu --size medium                 # a fresh database, dropped afterwards
    python -m bench.rebuild_cpu --database-url URL --runs 3   # an existing ledger, rebuilt 3 times

On a shared two-core machine wall-clock rates move by ±20 % from run to run; the process's CPU seconds
per event move far less, so that is what compares two versions of the code. To A/B two checkouts, run
each against the same `--database-url` in turn (PYTHONPATH=<checkout>).
"""

from __future__ import annotations

import argparse
import os
import resource
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from bench.generate import SIZES, Size, generated
from projections.rebuild import rebuild
from service.settings import eventsourcing_env

TICK = os.sysconf("SC_CLK_TCK")
POLL = "bench-poll"


def _cpu(stat: Path) -> tuple[float, float]:
    """A process's or thread's user + system CPU seconds, and its system ones, from its /proc stat file."""
    text = stat.read_text()
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / TICK, int(fields[12]) / TICK


def threads_cpu(found: dict[int, tuple[str, float, float]]) -> None:
    """Keep, in `found`, the CPU seconds (all, system) of this process's live threads, by native id, with their
    names."""
    names = {t.native_id: t.name for t in threading.enumerate()}
    for task in Path("/proc/self/task").iterdir():
        try:
            seconds, system = _cpu(task / "stat")
        except (FileNotFoundError, ProcessLookupError):
            continue
        tid = int(task.name)
        # Pool threads are named after their pool: "projection-reader_0" and the like.
        name = names.get(tid, found.get(tid, ("?", 0.0, 0.0))[0]).rsplit("_", 1)[0]
        found[tid] = (name, seconds, system)


@contextmanager
def sampled(url: str, found: dict[int, float], threads: dict[int, tuple[str, float, float]]) -> Iterator[None]:
    """Keep, in `found`, the CPU seconds of every backend connected to `url`'s database during the block,
    and in `threads` those of this process's threads (sampled: a thread's last 0.5 s may be missed)."""
    stop = threading.Event()

    def poll() -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            while True:
                rows = conn.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
                ).fetchall()
                for (pid,) in rows:
                    try:
                        found[pid] = _cpu(Path(f"/proc/{pid}/stat"))[0]
                    except (FileNotFoundError, ProcessLookupError):
                        pass
                threads_cpu(threads)
                if stop.wait(0.5):
                    return

    thread = threading.Thread(target=poll, name=POLL, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def measure(url: str, shares: int | None = None) -> None:
    env = eventsourcing_env(url)
    backends: dict[int, float] = {}
    with psycopg.connect(url, autocommit=True) as conn:
        # Backends already there (none of the rebuild's) are not counted.
        for (pid,) in conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database()"):
            backends[pid] = 0.0
    threads: dict[int, tuple[str, float, float]] = {}
    threads_cpu(threads)
    before = {tid: (seconds, system) for tid, (_, seconds, system) in threads.items()}
    usage = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu, wall = time.process_time(), time.perf_counter()
    with sampled(url, backends, threads):
        events = rebuild(env, shares=shares)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    system = resource.getrusage(resource.RUSAGE_SELF).ru_stime - usage.ru_stime
    # The shares' processes, when the rebuild ran in several (their threads are not broken down).
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu += after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime
    system += after.ru_stime - children.ru_stime
    threads_cpu(threads)
    per: dict[str, float] = {}
    per_system: dict[str, float] = {}
    for tid, (name, seconds, system_seconds) in threads.items():
        per[name] = per.get(name, 0.0) + seconds - before.get(tid, (0.0, 0.0))[0]
        per_system[name] = per_system.get(name, 0.0) + system_seconds - before.get(tid, (0.0, 0.0))[1]
    # The polling thread's own CPU is the benchmark's, not the rebuild's.
    cpu -= per.pop(POLL, 0.0)
    server = sum(backends.values())
    line = f"{events:,} events: {events / wall:,.0f} events/s, {cpu / events * 1e6:.1f} µs CPU/event"
    line += f" ({system / events * 1e6:.1f} of it system; server {server / events * 1e6:.1f} µs/event;"
    line += " ".join(
        f" {n} {s / events * 1e6:.1f} ({per_system[n] / events * 1e6:.1f} system)"
        for n, s in sorted(per.items())
        if s > 0.01 and not n.startswith("pool-")
    )
    shared = after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime
    if shared:
        line += f" shares' processes {shared / events * 1e6:.1f}"
    line += ")"
    print(line, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=tuple(SIZES), default="medium")
    parser.add_argument("--database-url", help="an existing ledger to rebuild (default: a fresh one of --size)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--shares", type=int, help="processes to rebuild in (default: as the rebuild chooses; 1 breaks down threads)"
    )
    args = parser.parse_args()
    if args.database_url:
        for _ in range(args.runs):
            measure(args.database_url, args.shares)
        return
    with generated(Size(*SIZES[args.size])) as url:
        for _ in range(args.runs):
            measure(url, args.shares)


if __name__ == "__main__":
    main()
