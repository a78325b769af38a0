"""A fresh database and a real uvicorn process for benchmarks to measure."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import psycopg

from service.projector import projector_process, stop
from service.settings import with_database

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/test"
BIN = Path(sys.executable).parent


@contextmanager
def fresh_database(server_url: str | None = None) -> Iterator[str]:
    """An empty database on the server named by DATABASE_URL, dropped afterwards."""
    server = server_url or os.environ.get("DATABASE_URL") or DEFAULT_SERVER
    name = f"ml_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield with_database(server, name)
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def uvicorn_started(
    database_url: str, port: int, *, extra_env: dict[str, str] | None = None, extra_args: tuple[str, ...] = ()
) -> Iterator[subprocess.Popen[bytes]]:
    """`uvicorn service.app:create_app` on a loopback port, answering /health; stopped on exit."""
    env = {**os.environ, "DATABASE_URL": database_url, **(extra_env or {})}
    process = subprocess.Popen(
        [str(BIN / "uvicorn"), "service.app:create_app", "--factory", "--host", "127.0.0.1", "--port", str(port),
         "--log-level", "warning", "--no-access-log", *extra_args],
        env=env,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.1)
        yield process
    finally:
        stop(process)


@contextmanager
def uvicorn_process(
    database_url: str, *, workers: int = 1, extra_env: dict[str, str] | None = None, projector: bool = True
) -> Iterator[str]:
    """`uvicorn service.app:create_app` on a free loopback port, beside a projector process as
    `measure-ledger serve` runs them (unless `projector` is False); yields its base URL."""
    port = free_port()
    with ExitStack() as stack:
        if projector:
            stack.enter_context(projector_process(database_url, env=extra_env, output=subprocess.DEVNULL))
        stack.enter_context(
            uvicorn_started(database_url, port, extra_env=extra_env, extra_args=("--workers", str(workers)))
        )
        yield f"http://127.0.0.1:{port}"


def projector_pid(database_url: str) -> int | None:
    """The pid of the projector process `uvicorn_process` started for `database_url`, if it runs."""
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().split(b"\0")
            with open(f"/proc/{entry}/environ", "rb") as f:
                environ = f.read().split(b"\0")
        except OSError:
            continue
        if cmdline[1:4] == [b"-m", b"service.cli", b"project"] and f"DATABASE_URL={database_url}".encode() in environ:
            return int(entry)
    return None


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]
