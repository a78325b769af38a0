"""Instructions per cached dashboard hit (or `--query measure`: per uncached one-measure + history read), by callgrind.

    python bench/hit_instructions.py setup URL FILE      # seed a small ledger into the empty database URL
    valgrind --tool=callgrind --instr-atstart=no --zero-before=getppid --dump-before=getpgrp \\
        --callgrind-out-file=OUT python bench/hit_instructions.py hits FILE [--gzip] [--warm 300] [--hits 300]
    grep totals OUT.1    # the hits alone: instructions ÷ hits

`setup` writes FILE (the database's URL, a token, the dashboard plan's id); `hits` starts the app's lifespan
with the response cache on, sends the dashboard query `--warm` times, then `--hits` times between a call of
getppid() and one of getpgrp(), which callgrind is told to zero its counters before and dump them before: the
dump (OUT.1) holds the hits and nothing else. Under valgrind it turns callgrind's instrumentation on only then
(`callgrind_control -i on`), so that starting the service takes seconds rather than minutes. Requests go
straight to the app (no server, no socket), with the headers bench.load sends, so that the figure is the
service's own. `--query measure` sends instead the bench's one measure + history query (MEASURE in
bench/__main__.py, a measure of 100 revisions that `setup` makes) with the response cache off, so that
every request is executed. It runs against older trees as well (PYTHONPATH naming the tree): only the app factory, the
settings and the token are imported from the service.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
from typing import Any

from bench.latency import DASHBOARD

ENV = {"ML_RESPONSE_CACHE": "1", "ML_LOAD_DEMO": "0", "ML_RUN_PROJECTION": "0"}


def setup(url: str, file: str) -> None:
    from bench.__main__ import history_measure
    from bench.generate import SIZES, Size, generate
    from domain.ledger import Ledger
    from domain.plan import Plan
    from projections.runner import catch_up_if_leader
    from service.settings import eventsourcing_env

    try:
        from service.auth.tokens import create_token
    except ImportError:  # trees before service/auth/
        from service.tokens import create_token  # type: ignore[no-redef]

    ledger = Ledger(env=eventsourcing_env(url))
    try:
        generate(ledger, Size(*SIZES["small"]), progress=False)
    finally:
        ledger.close()
    catch_up_if_leader(eventsourcing_env(url))
    ledger = Ledger(env=eventsourcing_env(url))
    try:
        revised = str(history_measure(ledger))
    finally:
        ledger.close()
    catch_up_if_leader(eventsourcing_env(url))
    plan_id = str(Plan.create_id("Partnership 000", "Plan 2012-13"))
    with open(file, "w") as f:
        json.dump({"url": url, "token": create_token(url, "bench"), "plan": plan_id, "measure": revised}, f)


async def hits(file: str, gzip: bool, warm: int, count: int, query: str) -> None:
    with open(file) as f:
        given = json.load(f)
    cached = query == "dashboard"
    os.environ.update({**ENV, "ML_RESPONSE_CACHE": "1" if cached else "0", "DATABASE_URL": given["url"]})
    from service.app import create_app

    app = create_app()
    if cached:
        body = json.dumps({"query": DASHBOARD, "variables": {"id": given["plan"]}}).encode()
    else:
        from bench.__main__ import MEASURE

        body = json.dumps({"query": MEASURE, "variables": {"id": given["measure"]}}).encode()
    cache = "hit" if cached else None
    headers = [
        (b"host", b"127.0.0.1:8000"),
        (b"accept", b"application/json"),
        (b"authorization", f"Bearer {given['token']}".encode()),
        *([(b"accept-encoding", b"gzip")] if gzip else []),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    async with app.router.lifespan_context(app):
        await _hit(app, headers, body, gzip, "miss" if cached else None)  # executed once, then kept
        for _ in range(warm):
            await _hit(app, headers, body, gzip, cache)
        if "valgrind" in os.environ.get("LD_PRELOAD", ""):
            subprocess.run(["callgrind_control", "-i", "on", str(os.getpid())], stdout=subprocess.DEVNULL, check=True)
        os.getppid()  # callgrind zeroes its counters here
        for _ in range(count):
            await _hit(app, headers, body, gzip, cache)
        os.getpgrp()  # and dumps them here
    print(f"{count} hits after {warm}", file=sys.stderr)


async def _hit(app: Any, headers: list[tuple[bytes, bytes]], body: bytes, gzip: bool, cache: str | None) -> None:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
        "scheme": "http",
        "method": "POST",
        "root_path": "",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "query_string": b"",
        "headers": headers,
        "state": {},
    }
    sent: list[dict[str, Any]] = []
    received = False

    async def receive() -> dict[str, Any]:
        nonlocal received
        if received:
            await asyncio.Event().wait()
        received = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = sent[0]
    assert start["status"] == 200, sent
    found = dict(start["headers"])
    assert found.get(b"x-cache") == (cache.encode() if cache else None), found
    assert b'"errors"' not in b"".join(m.get("body", b"") for m in sent), sent
    # Trees before service/compression.py answer identity whatever the client accepts.
    assert gzip or b"content-encoding" not in found, found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    made = commands.add_parser("setup")
    made.add_argument("url")
    made.add_argument("file")
    run = commands.add_parser("hits")
    run.add_argument("file")
    run.add_argument("--gzip", action="store_true", help="send Accept-Encoding: gzip")
    run.add_argument("--warm", type=int, default=300)
    run.add_argument("--hits", type=int, default=300)
    run.add_argument("--query", choices=["dashboard", "measure"], default="dashboard")
    args = parser.parse_args()
    if args.command == "setup":
        setup(args.url, args.file)
        return
    try:
        import uvloop
    except ImportError:
        asyncio.run(hits(args.file, args.gzip, args.warm, args.hits, args.query))
    else:
        uvloop.run(hits(args.file, args.gzip, args.warm, args.hits, args.query))


if __name__ == "__main__":
    main()
