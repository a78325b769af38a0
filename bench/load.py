"""The load generator: concurrent HTTP clients in a process of their own, so its CPU is its own.

    python -m bench.load < spec.json > result.json

spec: {"base": url, "headers": {...}, "clients": [[request, ...], ...], "repeat": bool, "seconds": float}
where a request is {"method": "GET"|"POST", "path": str, "json": object|null}. One asyncio task per
client; with "repeat" each client cycles its requests until "seconds" pass, else it sends each once
(still stopping at "seconds"). A response counts as an error unless it is 200 with no GraphQL "errors".

result: {"latencies_ms": [...], "errors": n, "first_error": str|null, "wall": s, "cpu": s}
(cpu: this process's user + system seconds while sending: near `wall` means the generator, not the
server, was the bottleneck).
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from typing import Any

import httpx


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _client(
    http: httpx.AsyncClient, requests: list[dict[str, Any]], repeat: bool, deadline: float, out: dict[str, Any]
) -> None:
    n = 0
    while requests and time.monotonic() < deadline and (repeat or n < len(requests)):
        request = requests[n % len(requests)]
        n += 1
        started = time.perf_counter()
        response = await http.request(request["method"], request["path"], json=request.get("json"))
        elapsed = (time.perf_counter() - started) * 1000
        ok = response.status_code == 200 and "errors" not in response.json()
        if ok:
            out["latencies_ms"].append(elapsed)
        else:
            out["errors"] += 1
            out["first_error"] = out["first_error"] or response.text[:500]


async def run(spec: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"latencies_ms": [], "errors": 0, "first_error": None}
    limits = httpx.Limits(max_connections=len(spec["clients"]))
    async with httpx.AsyncClient(base_url=spec["base"], headers=spec["headers"], timeout=60, limits=limits) as http:
        cpu, wall = _cpu(), time.monotonic()
        deadline = wall + float(spec["seconds"])
        await asyncio.gather(*(_client(http, c, bool(spec["repeat"]), deadline, out) for c in spec["clients"]))
        out["wall"] = time.monotonic() - wall
        out["cpu"] = _cpu() - cpu
    return out


def main() -> None:
    spec = json.load(sys.stdin)
    json.dump(asyncio.run(run(spec)), sys.stdout)


if __name__ == "__main__":
    main()
