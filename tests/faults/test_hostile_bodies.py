"""Hostile bodies sent to `serve` while writers write: deeply nested JSON, huge bodies, garbage, and clients
that never finish their headers. Each is refused with a coded error (or 408), never a 5xx; the writers lose
nothing and the service keeps serving."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import time
from collections import Counter
from collections.abc import Callable, Iterator

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from tests.e2e.ws_client import graphql_ws
from tests.faults.checks import assert_whole, figures
from tests.faults.conftest import measures_to_write_on
from tests.faults.load import Writers
from tests.faults.served import Served

pytestmark = [pytest.mark.faults, pytest.mark.slow]

WRITERS, PER_WRITER = 2, 40
HEADER_TIMEOUT = 2  # seconds: ML_HEADER_TIMEOUT_SECONDS for the scenario's service
JSON = "application/json"


def chunks(total: int) -> Iterator[bytes]:
    """A body sent in chunks with no Content-Length: its size shows only as it arrives."""
    sent = 0
    while sent < total:
        yield b" " * 65536
        sent += 65536


HOSTILE: dict[str, tuple[str, bytes | Callable[[], Iterator[bytes]]]] = {
    "990 nested arrays (2 KB)": (JSON, b"[" * 990 + b"]" * 990),
    "variables 1,000 levels deep": (
        JSON,
        b'{"query": "{ plans { id } }", "variables": {"a": ' + b'{"a": ' * 1000 + b"1" + b"}" * 1001 + b"}",
    ),
    "a query 5,000 selections deep": (JSON, json.dumps({"query": "{ a" * 5000 + " }" * 5000}).encode()),
    "5 MiB of JSON": (JSON, json.dumps({"query": "{ plans { id } }", "pad": "x" * (5 << 20)}).encode()),
    "8 MiB in chunks, no length": (JSON, lambda: chunks(8 << 20)),
    "random bytes": (JSON, os.urandom(4096)),
    "invalid UTF-8": (JSON, b'{"query": "\xff\xfe{ plans { id } }"}'),
    "truncated JSON": (JSON, b'{"query": "{ plans { id } }", "variables": {"a": '),
    "JSON that is not an object": (JSON, b'"{ plans { id } }"'),
    "a query that is a number": (JSON, b'{"query": 42}'),
    "variables that are a list": (JSON, b'{"query": "{ plans { id } }", "variables": [1, 2]}'),
    "a batch of 10,000 operations": (JSON, json.dumps([{"query": "{ plans { id } }"}] * 10000).encode()),
    "a number of 100,000 digits": (
        JSON,
        json.dumps(
            {
                "query": 'mutation($v: Decimal!) { submitFigure(input: {measureId: "x", component: "c", '
                "quarter: Q1, value: $v}) { position } }",
                "variables": {"v": "9" * 100000},
            }
        ).encode(),
    ),
    "NUL bytes as text/plain": ("text/plain", b"\x00" * 1024),
    "an empty body": (JSON, b""),
    "form data": ("multipart/form-data; boundary=x", b"--x\r\nContent-Disposition: form-data\r\n\r\n" + b"[" * 5000),
}


def test_hostile_bodies_are_refused_with_a_code_never_a_5xx_while_writes_lose_nothing(
    serve: Callable[..., Served], fault_database: str, operator_token: str
) -> None:
    served = serve(ML_HEADER_TIMEOUT_SECONDS=str(HEADER_TIMEOUT))
    served.start()
    _, measures = measures_to_write_on(served.url, operator_token, WRITERS)
    writers = Writers(lambda: served.url, operator_token, measures, PER_WRITER).start()
    statuses: Counter[int] = Counter()
    refused: dict[str, str] = {}
    headers = {"authorization": f"Bearer {operator_token}"}
    with httpx.Client(timeout=60, headers=headers) as http:
        for _ in range(3):
            for name, (content_type, body) in HOSTILE.items():
                content = body() if callable(body) else body
                response = http.post(served.url + "/graphql", content=content, headers={"content-type": content_type})
                statuses[response.status_code] += 1
                # A body that cannot be read is a 4xx; a document read but refused by a limit may be a 200
                # (GraphQL over HTTP answers application/json that way); neither is ever a 5xx.
                assert response.status_code < 500, f"{name}: {response.status_code} {response.text[:300]}"
                error = response.json()["errors"][0]
                assert error["extensions"]["code"] in ("VALIDATION", "LIMIT_EXCEEDED"), f"{name}: {error}"
                refused[name] = f"{response.status_code} {error['extensions']['code']}"
    silent = silent_clients(served.port)
    closes = asyncio.run(hostile_websocket_messages(served.url.replace("http", "ws") + "/graphql", operator_token))
    tally = writers.join()
    assert httpx.get(served.url + "/health").status_code == 200
    served.stop()

    assert_whole(fault_database, tally, [f"writer-{n}-{i}" for n in range(WRITERS) for i in range(PER_WRITER)])
    figures(
        "hostile bodies",
        **tally.figures(),
        hostile_requests=sum(statuses.values()),
        answered=dict(sorted(statuses.items())),
        websocket_closes=closes,
        silent_clients_answered_408=silent,
    )
    for name, answer in refused.items():
        print(f"faults |   {name}: {answer}")


def silent_clients(port: int, count: int = 20) -> int:
    """Connections that send part of a request's headers and then nothing, or a byte at a time: the service
    answers each 408 and closes it once the header time-out has passed; returns how many were answered 408."""
    sockets = [socket.create_connection(("127.0.0.1", port), timeout=0.2) for _ in range(count)]
    try:
        for n, s in enumerate(sockets):
            s.sendall(b"POST /graphql HTTP/1.1\r\nHost: x\r\n" if n % 2 else b"P")
        answers = [b""] * count
        open_ = set(range(count))
        deadline = time.monotonic() + HEADER_TIMEOUT + 20
        while open_ and time.monotonic() < deadline:
            for n in list(open_):
                try:
                    if n % 4 == 3:
                        sockets[n].sendall(b"x")  # a byte at a time, each in good time
                    got = sockets[n].recv(4096)
                except TimeoutError:
                    continue
                except OSError:
                    got = b""
                answers[n] += got
                if not got:
                    open_.discard(n)
        assert not open_, f"{len(open_)} silent connections still held after {HEADER_TIMEOUT + 20} s"
        return sum(a.startswith(b"HTTP/1.1 408") for a in answers)
    finally:
        for s in sockets:
            s.close()


async def hostile_websocket_messages(ws_url: str, token: str) -> list[int]:
    """Nested and garbage messages on an acknowledged graphql-transport-ws connection: each closes it with a
    4xxx code (the protocol's answer to a malformed message), never an internal error (1011)."""
    codes = []
    for message in ('{"id": "1", "type": "subscribe", "payload": ' + "[" * 5000 + "]" * 5000 + "}", "\x00garbage"):
        async with graphql_ws(ws_url, {"Authorization": f"Bearer {token}"}) as ws:
            await ws.ws.send(message)
            with pytest.raises(ConnectionClosed) as closed:
                async with asyncio.timeout(10):
                    while True:
                        await ws.ws.recv()
            assert closed.value.rcvd is not None
            codes.append(closed.value.rcvd.code)
    assert all(4400 <= code < 4500 for code in codes), codes
    return codes
