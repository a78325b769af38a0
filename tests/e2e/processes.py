"""The service as separate uvicorn processes on loopback ports, sharing one database.

Used where a test needs what a thread cannot give: several server processes,
each with its own LISTEN connection, or a restart of the whole service.
A server's output is kept in a temporary file; set ML_TEST_SERVER_OUTPUT=1 to
print it to stderr when the process stops.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

import httpx
import psycopg

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class ServiceProcess:
    """`uvicorn service.app:create_app --factory` in a subprocess; start, stop, start again."""

    def __init__(self, database_url: str, env: dict[str, str] | None = None) -> None:
        self.database_url = database_url
        self.env = env or {}
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._http: httpx.Client | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/graphql"

    def launch(self) -> ServiceProcess:
        """Start the process without waiting for it to serve (see `wait_ready`)."""
        env = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "ML_RUN_PROJECTION": "1",
            "ML_LOAD_DEMO": "0",
            "ML_GRAPHIQL": "0",
            **self.env,
        }
        # The server's output goes to a file, shown if it fails to start.
        self._log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            [
                str(BIN / "uvicorn"),
                "service.app:create_app",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        return self

    def wait_ready(self, timeout: float = 30) -> ServiceProcess:
        deadline = time.monotonic() + timeout
        assert self.process is not None
        while True:
            try:
                if httpx.get(self.url + "/health", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"service on port {self.port} did not start:\n{self.output()}")
            time.sleep(0.05)

    def health(self) -> dict[str, Any]:
        # One client, kept open: a new one per poll costs tens of milliseconds.
        if self._http is None:
            self._http = httpx.Client(base_url=self.url, timeout=5)
        body: dict[str, Any] = self._http.get("/health").json()
        return body

    def wait_for_subscribers(self, table: str, count: int, timeout: float = 10) -> None:
        """Until `count` subscribers of `table` have joined this process's live feed."""
        deadline = time.monotonic() + timeout
        while self.health()["subscribers"][table] != count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{table} subscribers: {self.health()['subscribers']}, expected {count}")
            time.sleep(0.02)

    def output(self) -> str:
        if self._log is None:
            return ""
        self._log.seek(0)
        return self._log.read().decode(errors="replace")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it has not gone after 15 s."""
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
            self.process = None
        if self._http is not None:
            self._http.close()
            self._http = None
        if self._log is not None:
            if os.environ.get("ML_TEST_SERVER_OUTPUT"):  # for debugging: the server's log on stderr
                print(f"--- service on port {self.port}:\n{self.output()}", file=sys.stderr)
            self._log.close()
            self._log = None


def children_of(pid: int, argument: str) -> list[int]:
    """The running children of `pid` with `argument` among their command line's arguments."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        # The parent's pid is the second field after the command's name in parentheses; Z is a zombie.
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z" and argument.encode() in cmdline:
            found.append(int(entry))
    return found


def handles(pid: int, *signals: int) -> bool:
    """Whether process `pid` has a handler of its own for each of `signals` (SigCgt in /proc/PID/status).

    A signal sent before its handler is installed meets the disposition the process inherited: the default
    (which ends it on the spot) or, for SIGINT where the process that started it ignores SIGINT (a script's
    background job, a runner with no terminal such as CI's), "ignore": the signal is lost."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    caught = next((int(line.split()[1], 16) for line in status.splitlines() if line.startswith("SigCgt:")), 0)
    return all(caught >> (s - 1) & 1 for s in signals)


def wait_until_serving(url: str, process: subprocess.Popen[Any], output: Path, timeout: float = 60) -> None:
    """Until `url/health` answers 200; fails with the process's output in `output` if it ends or is late."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url + "/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert process.poll() is None and time.monotonic() < deadline, output.read_text()
        time.sleep(0.1)


def interrupt(process: subprocess.Popen[Any], seconds: float = 30) -> None:
    """SIGINT, as Ctrl-C would; SIGKILL and fail if it has not ended after `seconds`."""
    process.send_signal(signal.SIGINT)
    try:
        process.wait(seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()  # reaped here, or the next test fails on its ResourceWarning instead of this one
        raise


def start_all(processes: Iterable[ServiceProcess]) -> list[ServiceProcess]:
    """Launch several processes at once (their start-up overlaps), then wait for each."""
    launched = [p.launch() for p in processes]
    try:
        return [p.wait_ready() for p in launched]
    except BaseException:
        for p in launched:
            p.stop()
        raise


def lock_holder(database_url: str, key: int) -> int | None:
    """The PostgreSQL backend holding advisory lock `key` (a leader's lock) in this database, if any."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1"
            " AND ((classid::bigint << 32) | objid::bigint) = %s"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            (key,),
        ).fetchone()
    return int(row[0]) if row else None
