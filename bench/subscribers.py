"""Status-change subscribers on one service process while mutations arrive.

    python -m bench.subscribers                       # 1,000; DATABASE_URL names a PostgreSQL server
    python -m bench.subscribers --subscribers 10000   # in 4 client processes

One uvicorn process (the service as `serve` runs it) on a loopback port;
client processes of their own (`--processes`, one per 2,500 subscribers by
default) hold the WebSockets (graphql-transport-ws, through `websockets`), so
that receiving 10,000 messages an event is not one process's queue; a thread
of this process sends mutations over HTTP one after another, each flipping a
quarter's status, so each is one status change fanned out to every subscriber.
The file-descriptor limit is raised for them all (one per socket).

What it prints:
- delivery latency, from the event's `recordedAt` (stamped when the command
  ran, before the event store's commit) to the moment a subscriber's socket
  received the message: it covers the commit, the projection, NOTIFY, the
  feed's read, execution, serialisation and the network. Also the same from
  the moment the writer got its HTTP response (which itself waits for the
  read model, so this one can be negative);
- memory per idle subscriber: the server's VmRSS with every client connected
  and subscribed, minus its VmRSS with none, over their number.

It stops by itself: every wait has a deadline.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from bench.server import free_port, fresh_database, percentile, uvicorn_started
from service.auth.tokens import create_token

PROTOCOL = Subprotocol("graphql-transport-ws")
SUBSCRIPTION = """subscription($planId: ID) { statusChanged(planId: $planId) {
  cursor position recordedAt actor planId measureId measureNumber quarter from to reason } }"""

CREATE_PLAN = """mutation($input: CreatePlanInput!) { createPlan(input: $input) { plan { id } } }"""
ADD_THEME = """mutation($input: AddThemeInput!) { addTheme(input: $input) { position } }"""
DEFINE = """mutation($input: DefineMeasureInput!) { defineMeasure(input: $input) { measure { id } } }"""
BASELINE = """mutation($input: SetBaselineInput!) { setBaseline(input: $input) { position } }"""
SUBMIT = """mutation($input: SubmitFigureInput!) { submitFigure(input: $input) { position } }"""
REVISE = """mutation($input: ReviseFigureInput!) { reviseFigure(input: $input) { position measure { status } } }"""


def vm_rss_kib(pid: int) -> int:
    """Resident set size of a process, from /proc/PID/status."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process, from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def service(database_url: str, port: int, deflate: bool, ws: str) -> Iterator[subprocess.Popen[bytes]]:
    """The service in one uvicorn process on a loopback port, stopped on exit."""
    env = {"ML_RUN_PROJECTION": "1", "ML_GRAPHIQL": "0"}
    deflating = ("--ws-per-message-deflate", str(deflate).lower(), "--ws", ws)
    with uvicorn_started(database_url, port, extra_env=env, extra_args=deflating) as process:
        yield process


def execute(client: httpx.Client, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    body = client.post("/graphql", json={"query": query, "variables": variables}).json()
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


def a_measure_with_a_figure(client: httpx.Client) -> tuple[str, str]:
    """A plan, a theme, measure 5.1 with its baseline and a Q1 figure: (plan id, measure id)."""
    plan = {"partnership": "Bench Partnership", "title": "Bench Plan", "year": "2012-13",
            "periodStart": "2012-04-01", "periodEnd": "2013-03-31"}  # fmt: skip
    plan_id = execute(client, CREATE_PLAN, {"input": plan})["createPlan"]["plan"]["id"]
    execute(client, ADD_THEME, {"input": {"planId": plan_id, "code": "5", "title": "Criminal damage"}})
    measure = {"planId": plan_id, "themeCode": "5", "number": "5.1", "title": "Reduce Criminal Damage",
               "direction": "REDUCE", "basis": "YTD_PRO_RATA",
               "components": [{"key": "total", "label": "Offences"}]}  # fmt: skip
    measure_id = execute(client, DEFINE, {"input": measure})["defineMeasure"]["measure"]["id"]
    execute(client, BASELINE, {"input": {"measureId": measure_id, "component": "total", "value": "2472"}})
    execute(client, SUBMIT, {"input": {"measureId": measure_id, "component": "total", "quarter": "Q1", "value": "492"}})
    return plan_id, measure_id


@dataclass
class Deliveries:
    """What the subscribers received and when; parsed after the run, so parsing does not delay receiving."""

    received: list[tuple[float, str]] = field(default_factory=list)
    count: int = 0
    done: asyncio.Event = field(default_factory=asyncio.Event)
    expected: int = 0
    receivers: set[asyncio.Task[None]] = field(default_factory=set)  # referenced, so none is collected early
    latency_ms: list[float] = field(default_factory=list)
    received_at: dict[int, list[float]] = field(default_factory=dict)  # position -> receive times
    recorded_at: dict[int, float] = field(default_factory=dict)  # position -> recordedAt

    def record(self, now: float, raw: str) -> None:
        self.received.append((now, raw))
        self.count += 1
        if self.expected and self.count >= self.expected:
            self.done.set()

    def analyse(self) -> None:
        for now, raw in self.received:
            change = json.loads(raw)["payload"]["data"]["statusChanged"]
            recorded = datetime.fromisoformat(change["recordedAt"]).timestamp()
            self.latency_ms.append((now - recorded) * 1000)
            self.received_at.setdefault(change["position"], []).append(now)
            self.recorded_at[change["position"]] = recorded


async def subscriber(
    url: str, token: str, plan_id: str, deliveries: Deliveries, compression: str | None
) -> ClientConnection:
    """Connect, authenticate, subscribe; a task then records every message it receives."""
    ws = await connect(
        url, subprotocols=[PROTOCOL], open_timeout=30, close_timeout=5, ping_interval=None, compression=compression
    )
    await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}))
    ack = json.loads(await asyncio.wait_for(ws.recv(), 30))
    assert ack["type"] == "connection_ack", ack
    payload = {"query": SUBSCRIPTION, "variables": {"planId": plan_id}}
    await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))

    async def receive() -> None:
        async for raw in ws:
            now = time.time()  # first thing: the client's own work should count as little as possible
            assert isinstance(raw, str)
            if '"type":"next"' in raw:
                deliveries.record(now, raw)
            elif '"type":"ping"' in raw:
                await ws.send(json.dumps({"type": "pong"}))

    task = asyncio.get_running_loop().create_task(receive())
    deliveries.receivers.add(task)
    task.add_done_callback(deliveries.receivers.discard)
    return ws


class RawSubscriber(asyncio.Protocol):
    """A graphql-transport-ws subscriber on asyncio's Protocol (`--receiver raw`): frames are read off the socket as
    they arrive, and each `next` is stamped when `data_received` gets it. Through the websockets client, its own
    work per message (parsing, assembling, a task's wake-up) delayed the stamps, and 10,000 of them per event on the
    service's cores slowed the service down too. Offers no compression; the service runs without it.
    """

    def __init__(self, url: str, token: str, plan_id: str, deliveries: Deliveries) -> None:
        self.url, self.token, self.plan_id, self.deliveries = url, token, plan_id, deliveries
        self.buffer = b""
        self.upgraded = False
        loop = asyncio.get_running_loop()
        self.subscribed: asyncio.Future[None] = loop.create_future()
        self.lost: asyncio.Future[None] = loop.create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        host, path = self.url.removeprefix("ws://").split("/", 1)
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write(
            f"GET /{path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Sec-WebSocket-Protocol: {PROTOCOL}\r\n\r\n".encode()
        )

    def data_received(self, data: bytes) -> None:
        now = time.time()  # first thing
        buffer = self.buffer + data if self.buffer else data
        if not self.upgraded:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                self.buffer = buffer
                return
            if b" 101 " not in buffer[: buffer.find(b"\r\n")]:
                self._fail(RuntimeError(f"handshake refused: {buffer[:end]!r}"))
                return
            self.upgraded, buffer = True, buffer[end + 4 :]
            self.send({"type": "connection_init", "payload": {"Authorization": f"Bearer {self.token}"}})
        at, size = 0, len(buffer)
        while size - at >= 2:
            length, head = buffer[at + 1] & 0x7F, 2
            if length == 126:
                length, head = int.from_bytes(buffer[at + 2 : at + 4], "big"), 4
            elif length == 127:
                length, head = int.from_bytes(buffer[at + 2 : at + 10], "big"), 10
            if size - at < head + length:
                break
            self.frame(buffer[at] & 0x0F, buffer[at + head : at + head + length], now)
            at += head + length
        self.buffer = buffer[at:]

    def frame(self, opcode: int, payload: bytes, now: float) -> None:
        if opcode == 0x1:
            if b'"type":"next"' in payload:
                self.deliveries.record(now, payload.decode())
            elif b'"type":"connection_ack"' in payload:
                variables = {"query": SUBSCRIPTION, "variables": {"planId": self.plan_id}}
                self.send({"id": "1", "type": "subscribe", "payload": variables})
                if not self.subscribed.done():
                    self.subscribed.set_result(None)
            elif b'"type":"ping"' in payload:
                self.send({"type": "pong"})
        elif opcode == 0x9:
            self.write_frame(0xA, payload)
        elif opcode == 0x8:
            assert self.transport is not None
            self.transport.close()

    def send(self, message: dict[str, Any]) -> None:
        self.write_frame(0x1, json.dumps(message).encode())

    def write_frame(self, opcode: int, data: bytes) -> None:
        """A masked frame, as a client sends them (RFC 6455 §5.3)."""
        mask, n = os.urandom(4), len(data)
        head = bytes((0x80 | opcode, 0x80 | n)) if n < 126 else bytes((0x80 | opcode, 0xFE)) + n.to_bytes(2, "big")
        assert self.transport is not None
        self.transport.write(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def _fail(self, error: Exception) -> None:
        if not self.subscribed.done():
            self.subscribed.set_exception(error)
        assert self.transport is not None
        self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.subscribed.done():
            self.subscribed.set_exception(exc or ConnectionError("closed before subscribing"))
        if not self.lost.done():
            self.lost.set_result(None)

    async def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.write_frame(0x8, (1000).to_bytes(2, "big"))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self.lost), 5)
            self.transport.close()


async def raw_subscriber(url: str, token: str, plan_id: str, deliveries: Deliveries) -> RawSubscriber:
    host, port = url.removeprefix("ws://").split("/", 1)[0].rsplit(":", 1)
    loop = asyncio.get_running_loop()
    _, protocol = await loop.create_connection(lambda: RawSubscriber(url, token, plan_id, deliveries), host, int(port))
    await asyncio.wait_for(protocol.subscribed, 30)
    return protocol


def wait_for_subscribers(http: httpx.Client, count: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while http.get("/health").json()["subscribers"]["status_changes"] != count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"expected {count} subscribers: {http.get('/health').json()}")
        time.sleep(0.1)


def write(base: str, token: str, measure_id: str, mutations: int, gap: float, responses: dict[int, float]) -> None:
    """Flip Q1 between on track and off track, one mutation at a time: one status change each."""
    with httpx.Client(base_url=base, timeout=30, headers={"authorization": f"Bearer {token}"}) as http:
        for i in range(mutations):
            value = "700" if i % 2 == 0 else "492"  # 700 is 13% over the pro-rata 618: off track
            variables = {"input": {"measureId": measure_id, "component": "total", "quarter": "Q1",
                                   "value": value, "reason": f"bench revision {i}"}}  # fmt: skip
            position = execute(http, REVISE, variables)["reviseFigure"]
            responses[int(position["position"])] = time.time()
            time.sleep(gap)


class Clients:
    """Client processes (`python -m bench.subscribers --client`), each holding its share of the sockets.

    Each reads one command a line on stdin and answers one line on stdout: `connect N` (N more subscribers;
    answers when all are subscribed), `close` (all of them), `expect N` (answers, once each of its sockets has
    received N messages or the time-out passed, with what they received as JSON), `quit`.
    """

    def __init__(self, processes: int, ws_url: str, token: str, plan_id: str, compression: str, receiver: str) -> None:
        command = [sys.executable, "-m", "bench.subscribers", "--client", ws_url, token, plan_id, compression, receiver]
        self.processes = [
            subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            for _ in range(processes)
        ]

    def ask(self, commands: list[str]) -> list[str]:
        """Send each process its command (in order); wait for every answer."""
        for process, command in zip(self.processes, commands, strict=True):
            assert process.stdin is not None
            process.stdin.write(command + "\n")
            process.stdin.flush()
        answers = []
        for process in self.processes:
            assert process.stdout is not None
            answers.append(process.stdout.readline())
            if not answers[-1]:
                raise RuntimeError(f"a client process ended (exit code {process.wait()})")
        return answers

    def connect(self, count: int) -> None:
        n = len(self.processes)
        self.ask([f"connect {count // n + (1 if i < count % n else 0)}" for i in range(n)])

    def close(self) -> None:
        self.ask(["close"] * len(self.processes))

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None and process.stdin is not None:
                process.stdin.write("quit\n")
                process.stdin.close()
        for process in self.processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()


async def client(ws_url: str, token: str, plan_id: str, compression: str, receiver: str) -> None:
    """One client process's part (see `Clients`)."""
    deliveries = Deliveries()
    sockets: list[ClientConnection | RawSubscriber] = []
    offer = None if compression == "none" else "deflate"
    gate = asyncio.Semaphore(50)  # connect in waves, not every handshake at once

    async def one() -> ClientConnection | RawSubscriber:
        async with gate:
            if receiver == "raw":
                return await raw_subscriber(ws_url, token, plan_id, deliveries)
            return await subscriber(ws_url, token, plan_id, deliveries, offer)

    loop = asyncio.get_running_loop()
    while command := (await loop.run_in_executor(None, sys.stdin.readline)).split():
        if command[0] == "connect":
            sockets += await asyncio.gather(*(one() for _ in range(int(command[1]))))
            print("connected", flush=True)
        elif command[0] == "close":
            await asyncio.gather(*(ws.close() for ws in sockets))
            sockets.clear()
            print("closed", flush=True)
        elif command[0] == "expect":
            deliveries.expected = int(command[1]) * len(sockets)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(deliveries.done.wait(), timeout=float(command[2]))
            deliveries.analyse()
            received = {str(p): times for p, times in deliveries.received_at.items()}
            print(json.dumps({"received": received, "recorded": deliveries.recorded_at}), flush=True)
        else:
            break
    await asyncio.gather(*(ws.close() for ws in sockets))


def run(args: argparse.Namespace) -> None:
    processes = args.processes or max(1, -(-args.subscribers // 2500))
    with fresh_database() as url:
        token = create_token(url, "bench")
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        with (
            service(url, port, args.server_deflate, args.ws) as process,
            httpx.Client(base_url=base, timeout=30) as http,
        ):
            http.headers["authorization"] = f"Bearer {token}"
            plan_id, measure_id = a_measure_with_a_figure(http)
            ws_url = f"ws://127.0.0.1:{port}/graphql"
            clients = Clients(processes, ws_url, token, plan_id, args.compression, args.receiver)
            try:
                # Warm the code paths a subscriber uses, so their first use does not count as its memory; as many
                # at once as the run will connect, so fixed costs that grow with concurrency (the connection pool
                # reaching its size, the event loop's buffers) are paid before the first reading.
                clients.connect(min(100 * processes, args.subscribers))
                clients.close()
                wait_for_subscribers(http, 0)
                time.sleep(1)
                idle_before = vm_rss_kib(process.pid)

                started = time.monotonic()
                half = args.subscribers // 2
                clients.connect(half)
                wait_for_subscribers(http, half, timeout=300)
                time.sleep(1)
                idle_half = vm_rss_kib(process.pid)
                clients.connect(args.subscribers - half)
                wait_for_subscribers(http, args.subscribers, timeout=300)
                connect_seconds = time.monotonic() - started
                time.sleep(1)
                idle_after = vm_rss_kib(process.pid)

                responses: dict[int, float] = {}
                writer = threading.Thread(
                    target=write, args=(base, token, measure_id, args.mutations, args.gap, responses)
                )
                cpu_before = cpu_seconds(process.pid), time.monotonic()
                timeout = args.mutations * (args.gap + 2) + 30
                answers: list[str] = []
                collector = threading.Thread(
                    target=lambda: answers.extend(clients.ask([f"expect {args.mutations} {timeout}"] * processes))
                )
                collector.start()
                writer.start()
                writer.join(timeout)
                collector.join(timeout + 120)
                busy_rss = vm_rss_kib(process.pid)
                server_cpu = cpu_seconds(process.pid) - cpu_before[0]
                wall = time.monotonic() - cpu_before[1]
            finally:
                clients.stop()

    received_at: dict[int, list[float]] = {}
    recorded_at: dict[int, float] = {}
    for answer in answers:
        found = json.loads(answer)
        for position, times in found["received"].items():
            received_at.setdefault(int(position), []).extend(times)
        recorded_at.update({int(p): t for p, t in found["recorded"].items()})
    latency_ms = [(t - recorded_at[p]) * 1000 for p, times in received_at.items() for t in times]
    delivered, expected = len(latency_ms), args.subscribers * args.mutations
    if delivered < expected:
        print(f"timed out: {delivered} of {expected} messages delivered")
    per_subscriber = (idle_after - idle_before) * 1024 / args.subscribers
    # The second half's cost alone: what one more subscriber costs, free of any fixed cost still left in the first.
    marginal = (idle_after - idle_half) * 1024 / max(1, args.subscribers - half)
    since_response = [(t - responses[p]) * 1000 for p, times in received_at.items() if p in responses for t in times]
    first = [(min(t) - recorded_at[p]) * 1000 for p, t in received_at.items()]
    spread = [(max(t) - min(t)) * 1000 for t in received_at.values()]
    offered = "none" if args.receiver == "raw" else args.compression
    print(f"{args.subscribers} subscribers in {processes} client processes ({args.receiver} receivers offer {offered}, "
          f"server --ws {args.ws}, deflate {'on' if args.server_deflate else 'off'}) connected in "
          f"{connect_seconds:.1f} s; {args.mutations} mutations, {args.gap * 1000:.0f} ms apart; "
          f"{delivered} of {expected} messages delivered")  # fmt: skip
    print(f"{'figure':<58} {'median':>8} {'p99':>8} {'max':>8}")
    for name, samples in (
        ("delivery latency from the event's recordedAt, ms", latency_ms),
        ("delivery latency from the writer's HTTP response, ms", since_response),
        ("  of which: to the first subscriber (from recordedAt), ms", first),
        ("  of which: first to last subscriber of one event, ms", spread),
    ):
        if samples:
            print(f"{name:<58} {statistics.median(samples):>8.1f} {percentile(samples, 99):>8.1f} {max(samples):>8.1f}")
    print(f"server VmRSS: {idle_before / 1024:.1f} MiB with no subscriber, {idle_after / 1024:.1f} MiB with "
          f"{args.subscribers} idle, {busy_rss / 1024:.1f} MiB after the run")  # fmt: skip
    print(f"memory per idle subscriber: {per_subscriber / 1024:.1f} KiB over all {args.subscribers} "
          f"({idle_half / 1024:.1f} MiB at {half}); {marginal / 1024:.1f} KiB each for the second half")  # fmt: skip
    print(f"while mutating ({wall:.1f} s): server used {server_cpu:.1f} s of CPU "
          f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")  # fmt: skip


def main() -> None:
    if sys.argv[1:2] == ["--client"]:
        asyncio.run(client(*sys.argv[2:7]))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--processes", type=int, default=0, help="client processes (default: one per 2,500)")
    parser.add_argument("--mutations", type=int, default=40)
    parser.add_argument(
        "--compression",
        choices=("deflate", "none"),
        default="deflate",
        help="what the clients offer (websockets' default: deflate)",
    )
    parser.add_argument(
        "--receiver",
        choices=("raw", "websockets"),
        default="raw",
        help="how the clients read their sockets: frames off asyncio's Protocol (raw), or the websockets client",
    )
    parser.add_argument(
        "--server-deflate",
        action="store_true",
        help="let the server accept permessage-deflate (uvicorn's default; `measure-ledger serve` turns it off)",
    )
    parser.add_argument(
        "--ws", default="auto", help="uvicorn's WebSocket implementation (`serve`'s auto: websockets-sansio)"
    )
    parser.add_argument("--gap", type=float, default=0.25, help="seconds between one response and the next mutation")
    args = parser.parse_args()
    # Each WebSocket is a file descriptor in a client process and in the server; both inherit this limit.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = args.subscribers + 1024
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))
    run(args)


if __name__ == "__main__":
    main()
