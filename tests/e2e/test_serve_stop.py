"""`measure-ledger serve` with its embedded PostgreSQL stops it on SIGTERM or SIGINT, as systemd, Docker and
Kubernetes stop services; and a server left running by a crash is found by the next `serve`, reused, and
stopped when that one stops."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from tests.e2e.processes import free_port

pytestmark = pytest.mark.slow  # runs `measure-ledger serve` with an embedded PostgreSQL, several times

CLI = Path(sys.executable).with_name("measure-ledger")


def start_serve(data_dir: Path, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """`serve` with its embedded PostgreSQL in `data_dir`, once it answers; its process and URL."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env |= {"ML_DATA_DIR": str(data_dir), "ML_LOAD_DEMO": "0"}
    with open(log, "ab") as out:
        process = subprocess.Popen([str(CLI), "serve", "--port", str(port)], env=env, stdout=out, stderr=out)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(url + "/health", timeout=5).status_code == 200:
                return process, url
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError("serve did not start:\n" + log.read_text(errors="replace"))
        time.sleep(0.2)


def postgres_of(data_dir: Path) -> list[psutil.Process]:
    """The PostgreSQL server processes running on `data_dir`'s data."""
    pgdata = str((data_dir / "pgdata").resolve())
    found = []
    for process in psutil.process_iter(["name", "cmdline"]):
        if process.info["name"] == "postgres" and pgdata in " ".join(process.info["cmdline"] or ()):
            found.append(process)
    return found


def stopped(process: subprocess.Popen[bytes], how: signal.Signals, log: Path) -> int:
    process.send_signal(how)
    try:
        return process.wait(60)
    except subprocess.TimeoutExpired:
        process.kill()
        output = log.read_text(errors="replace")
        raise AssertionError(f"serve still running 60 s after {how.name}:\n{output}") from None


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_stops_serve_and_its_embedded_postgres_and_serve_starts_again(
    tmp_path: Path, how: signal.Signals
) -> None:
    data, log = tmp_path / "ledger-data", tmp_path / "serve.log"
    process, _ = start_serve(data, log)
    assert postgres_of(data), "no embedded PostgreSQL running"

    stopped(process, how, log)

    assert postgres_of(data) == [], log.read_text(errors="replace")
    assert not (data / "pgdata" / "postmaster.pid").exists()
    again, url = start_serve(data, log)
    try:
        assert httpx.get(url + "/health").json()["status"] == "ok"
    finally:
        stopped(again, signal.SIGTERM, log)
    assert postgres_of(data) == []


def test_a_server_left_by_a_killed_serve_is_reused_by_the_next_and_stopped_with_it(tmp_path: Path) -> None:
    data, log = tmp_path / "ledger-data", tmp_path / "serve.log"
    process, _ = start_serve(data, log)
    process.kill()
    process.wait(10)
    assert postgres_of(data), "the embedded PostgreSQL did not outlive its serve"

    again, url = start_serve(data, log)
    try:
        assert httpx.get(url + "/health").json()["status"] == "ok"
    finally:
        stopped(again, signal.SIGTERM, log)

    assert postgres_of(data) == [], log.read_text(errors="replace")
    assert not (data / "pgdata" / "postmaster.pid").exists()


def test_a_pid_file_naming_a_process_that_is_not_postgres_does_not_stop_serve_starting(tmp_path: Path) -> None:
    data, log = tmp_path / "ledger-data", tmp_path / "serve.log"
    process, _ = start_serve(data, log)
    pid_file = data / "pgdata" / "postmaster.pid"
    left = pid_file.read_text().splitlines()
    stopped(process, signal.SIGTERM, log)
    # As after a power cut: the pid file stayed, and its number now belongs to some other program.
    other = subprocess.Popen(["sleep", "300"])
    try:
        pid_file.write_text("\n".join([str(other.pid), *left[1:]]) + "\n")

        again, url = start_serve(data, log)
        try:
            assert httpx.get(url + "/health").json()["status"] == "ok"
        finally:
            stopped(again, signal.SIGTERM, log)
    finally:
        other.kill()
        other.wait()
    assert postgres_of(data) == []
