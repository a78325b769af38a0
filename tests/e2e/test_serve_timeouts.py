"""`measure-ledger serve` cuts off a client whose request headers do not arrive in time (a slowloris)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.processes import free_port, interrupt

pytestmark = pytest.mark.slow  # runs `measure-ledger serve`

CLI = Path(sys.executable).with_name("measure-ledger")
HEADER_TIMEOUT = 2


@pytest.fixture
def served(database_url: str, tmp_path: Path) -> Iterator[tuple[str, int]]:
    """`serve` against the test's database with a 2 s header time-out; its host and port."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "ML_HEADER_TIMEOUT_SECONDS": str(HEADER_TIMEOUT)}
    with open(tmp_path / "serve.log", "w") as log:
        process = subprocess.Popen(
            [str(CLI), "serve", "--port", str(port), "--projector", "thread"], env=env, stdout=log, stderr=log
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert process.poll() is None and time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
                time.sleep(0.1)
            yield "127.0.0.1", port
        finally:
            interrupt(process)


def received_until_closed(sock: socket.socket, limit: float) -> bytes:
    """What the server sends until it closes the connection; fails if it is still open after `limit` seconds."""
    sock.settimeout(limit)
    answer = b""
    while chunk := sock.recv(4096):
        answer += chunk
    return answer


def test_a_client_sending_its_headers_a_byte_at_a_time_is_cut_off(served: tuple[str, int]) -> None:
    request = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 1000 + b"\r\n\r\n"
    with socket.create_connection(served) as sock:
        started = time.monotonic()
        sent = 0
        with pytest.raises(OSError):  # the server closes the connection while the client still sends
            while sent < len(request):
                sock.sendall(request[sent : sent + 1])
                sent += 1
                time.sleep(0.1)
                assert time.monotonic() - started < HEADER_TIMEOUT + 8, "still connected"
            raise AssertionError("every header byte was accepted")
        assert sent < len(request)
        assert time.monotonic() - started >= HEADER_TIMEOUT - 0.5


def test_a_silent_client_is_cut_off_after_the_header_timeout(served: tuple[str, int]) -> None:
    with socket.create_connection(served) as sock:
        started = time.monotonic()

        answer = received_until_closed(sock, HEADER_TIMEOUT + 8)

        assert answer.startswith(b"HTTP/1.1 408 "), answer
        assert time.monotonic() - started >= HEADER_TIMEOUT - 0.5


def test_a_kept_alive_connection_still_serves_requests_sent_in_time(served: tuple[str, int]) -> None:
    host, port = served
    with httpx.Client(base_url=f"http://{host}:{port}") as client:
        for _ in range(3):
            assert client.get("/health").status_code == 200
            time.sleep(HEADER_TIMEOUT / 2)
