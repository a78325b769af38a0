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
from urllib.parse import urlsplit


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# A plain HTTP/1.1 keep-alive client: requests are encoded once, responses read by their length. An
# HTTP library spends a millisecond or more of CPU per request here (httpx measured 2.5-4 ms with the
# dashboard's JSON parsed), which on two shared cores starves the very servers being compared.


def _encode(host: str, headers: dict[str, str], request: dict[str, Any]) -> bytes:
    body = b"" if request.get("json") is None else json.dumps(request["json"]).encode()
    lines = [f"{request['method']} {request['path']} HTTP/1.1", f"host: {host}", "accept: application/json"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if body:
        lines += ["content-type: application/json", f"content-length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    status = int(status_line.split(" ", 2)[1])
    fields = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines if h)}
    if "content-length" in fields:
        return status, await reader.readexactly(int(fields["content-length"]))
    if fields.get("transfer-encoding", "").lower() == "chunked":
        chunks = []
        while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
            chunks.append(await reader.readexactly(size))
            await reader.readexactly(2)
        await reader.readuntil(b"\r\n")
        return status, b"".join(chunks)
    return status, b""  # 204/304: no body


def _failed(status: int, body: bytes) -> bool:
    # Parse only a body that may hold errors: the dashboard's JSON is large, and parsing it would be most
    # of the generator's work.
    return status != 200 or (b'"errors"' in body and "errors" in json.loads(body))


async def _client(
    base: str, headers: dict[str, str], requests: list[dict[str, Any]], repeat: bool, deadline: float,
    out: dict[str, Any],
) -> None:  # fmt: skip
    url = urlsplit(base)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    encoded = [_encode(f"{host}:{port}", headers, r) for r in requests]
    reader, writer = await asyncio.open_connection(host, port)
    try:
        n = 0
        while encoded and time.monotonic() < deadline and (repeat or n < len(encoded)):
            request = encoded[n % len(encoded)]
            n += 1
            started = time.perf_counter()
            try:
                writer.write(request)
                status, body = await asyncio.wait_for(_response(reader), 60)
            except (asyncio.IncompleteReadError, ConnectionError) as e:
                # The server closed the connection: count it, and carry on with a new one.
                out["errors"] += 1
                out["first_error"] = out["first_error"] or f"connection lost: {e!r}"
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
                continue
            elapsed = (time.perf_counter() - started) * 1000
            if _failed(status, body):
                out["errors"] += 1
                out["first_error"] = out["first_error"] or f"{status} {body[:500].decode(errors='replace')}"
            else:
                out["latencies_ms"].append(elapsed)
    finally:
        writer.close()


async def run(spec: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"latencies_ms": [], "errors": 0, "first_error": None}
    cpu, wall = _cpu(), time.monotonic()
    deadline = wall + float(spec["seconds"])
    clients = (_client(spec["base"], spec["headers"], c, bool(spec["repeat"]), deadline, out) for c in spec["clients"])
    await asyncio.gather(*clients)
    out["wall"] = time.monotonic() - wall
    out["cpu"] = _cpu() - cpu
    return out


def main() -> None:
    spec = json.load(sys.stdin)
    json.dump(asyncio.run(run(spec)), sys.stdout)


if __name__ == "__main__":
    main()
