"""What an idle subscriber's memory is made of: tracemalloc in the service's process, by library and by site.

    python -m bench.subscriber_memory                     # 1,000 subscribers; DATABASE_URL names a server
    python -m bench.subscriber_memory --subscribers 2000 --ws websockets

The service runs in this process (uvicorn in a thread, as `serve` configures it), so that tracemalloc sees
its allocations; the subscribers are a client process of bench.subscribers. Memory allocated while they
connected and still held once they are idle is set against each library by the innermost frame of its
allocation's stack that is not the standard library's (so a task or a queue counts against whoever made it),
and against that frame's line. tracemalloc sees Python's allocations only: the kernel's socket buffers, and
the allocator's own slack, are not in it (bench.subscribers' VmRSS figure is).
"""

from __future__ import annotations

import argparse
import gc
import resource
import threading
import time
import tracemalloc
from collections import Counter

import httpx
import uvicorn

from bench.server import free_port, fresh_database
from bench.subscribers import Clients, a_measure_with_a_figure, wait_for_subscribers
from service.app import create_app
from service.auth.tokens import create_token
from service.settings import Settings

PACKAGES = "site-packages/"


def owner(trace: tracemalloc.Traceback) -> tuple[str, str]:
    """(library, file:line) of the innermost frame outside the standard library."""
    for frame in reversed(trace):  # most recent last
        name = frame.filename
        if PACKAGES in name:
            site = name.split(PACKAGES, 1)[1]
            return site.split("/", 1)[0], f"{site}:{frame.lineno}"
        if "/lib/python3" not in name:
            return "ours", f"{'/'.join(name.rsplit('/', 2)[-2:])}:{frame.lineno}"
    return "standard library", f"{trace[-1].filename.rsplit('/', 1)[-1]}:{trace[-1].lineno}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--ws", default="auto", help="uvicorn's WebSocket implementation")
    parser.add_argument("--sites", type=int, default=25, help="how many sites to list")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, args.subscribers + 1024)), hard))
    with fresh_database() as url:
        token = create_token(url, "bench")
        port = free_port()
        app = create_app(Settings(database_url=url, load_demo=False, graphiql=False))
        config = uvicorn.Config(app, port=port, log_level="warning", ws=args.ws, ws_per_message_deflate=False)
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.1)
        http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
        http.headers["authorization"] = f"Bearer {token}"
        plan_id, _ = a_measure_with_a_figure(http)
        clients = Clients(1, f"ws://127.0.0.1:{port}/graphql", token, plan_id, "none", "websockets")
        try:
            clients.connect(100)  # warm the code paths, so their first use does not count
            clients.close()
            wait_for_subscribers(http, 0)
            tracemalloc.start(25)
            gc.collect()
            before = tracemalloc.take_snapshot()
            clients.connect(args.subscribers)
            wait_for_subscribers(http, args.subscribers, timeout=300)
            time.sleep(1)
            gc.collect()
            after = tracemalloc.take_snapshot()
            tracemalloc.stop()
        finally:
            clients.stop()
            server.should_exit = True
            thread.join(30)
    libraries: Counter[str] = Counter()
    sites: Counter[str] = Counter()
    for stat in after.compare_to(before, "traceback"):
        library, site = owner(stat.traceback)
        libraries[library] += stat.size_diff
        sites[site] += stat.size_diff
    n = args.subscribers
    print(f"{n} idle subscribers (--ws {args.ws}): {sum(libraries.values()) / n:,.0f} B each traced by tracemalloc")
    for library, size in libraries.most_common():
        if size / n >= 10:
            print(f"{size / n:8,.0f} B  {library}")
    print("by site:")
    for site, size in sites.most_common(args.sites):
        print(f"{size / n:8,.0f} B  {site}")


if __name__ == "__main__":
    main()
