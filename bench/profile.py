"""Where the time goes: pyinstrument profiles of the projection rebuild and of the dashboard query.

    .venv/bin/pip install -e ".[profile]"
    python -m bench.profile rebuild   [--size small|medium]   # profiles rebuild() in this process (its main thread)
    python -m bench.profile dashboard [--size small|medium]   # profiles a uvicorn process serving dashboards
                                      [--response-cache]      # ... with the response cache on (default off)

Each makes and drops a fresh database (DATABASE_URL names the server) and prints pyinstrument's text report.
"""

from __future__ import annotations

import argparse
import pstats
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.generate import SIZES, Size, generated
from bench.latency import DASHBOARD
from bench.server import BIN, free_port
from domain.plan import Plan
from projections.rebuild import rebuild
from projections.runner import catch_up_if_leader
from service.auth.tokens import create_token
from service.settings import eventsourcing_env


def profile_rebuild(url: str) -> None:
    from pyinstrument import Profiler

    profiler = Profiler()
    cpu = time.process_time()
    with profiler:
        events = rebuild(eventsourcing_env(url))
    cpu = time.process_time() - cpu
    print(profiler.output_text(unicode=True, show_all=False))
    # pyinstrument follows the projecting thread only; the reader and writer threads' CPU is in this figure,
    # and by thread in `python -m bench.rebuild_cpu` (the profiler's own overhead is in it too).
    print(f"{events:,} events, {cpu / max(events, 1) * 1e6:.1f} µs of process CPU per event under the profiler")


def profile_dashboard(url: str, seconds: float, response_cache: bool = False) -> None:
    catch_up_if_leader(eventsourcing_env(url))
    token = create_token(url, "bench")
    port = free_port()
    report = Path(tempfile.mkdtemp()) / "dashboard.pstats"
    command = [str(BIN / "pyinstrument"), "-r", "pstats", "-o", str(report), "-m", "uvicorn"]
    command += ["service.app:create_app", "--factory", "--port", str(port), "--log-level", "warning"]
    # The cache off by default: the benchmark's dashboard row measures execution, and with the cache on
    # every request after the first is a hit.
    env = {
        "DATABASE_URL": url,
        "ML_LOAD_DEMO": "0",
        "PATH": str(BIN),
        "ML_RESPONSE_CACHE": "1" if response_cache else "0",
    }
    process = subprocess.Popen(command, env=env)
    base = f"http://127.0.0.1:{port}"
    body = {"query": DASHBOARD, "variables": {"id": str(Plan.create_id("Partnership 000", "Plan 2012-13"))}}
    try:
        with httpx.Client(base_url=base, timeout=30, headers={"authorization": f"Bearer {token}"}) as client:
            for _ in range(300):
                try:
                    client.get("/health")
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            deadline, n = time.monotonic() + seconds, 0
            while time.monotonic() < deadline:
                assert "errors" not in client.post("/graphql", json=body).json()
                n += 1
        print(f"{n} dashboard queries in {seconds:.0f} s, one client")
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(60)
    # GraphQL execution is many small frames deep: a flat profile by own time says more than the tree.
    stats = pstats.Stats(str(report))
    stats.sort_stats("tottime").print_stats(30)
    stats.sort_stats("cumulative").print_stats("service|strawberry|graphql|asyncpg|json", 40)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=("rebuild", "dashboard"))
    parser.add_argument("--size", choices=tuple(SIZES), default="small")
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--response-cache", action="store_true", help="dashboard: profile with the response cache on")
    args = parser.parse_args()
    with generated(Size(*SIZES[args.size])) as url:
        if args.what == "rebuild":
            profile_rebuild(url)
        else:
            profile_dashboard(url, args.seconds, args.response_cache)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
