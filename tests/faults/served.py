"""`measure-ledger serve` as an operator runs it, on a fixed port, so that it can be killed and started again
where its clients expect it."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import IO

import httpx

from tests.e2e.processes import free_port, interrupt
from tests.e2e.test_projector_process import _projector_of
from tests.e2e.test_serve_command import CLI

# What the suite's service processes share: load is the point, not the per-principal rate limit.
SUITE_ENV = {"ML_MUTATION_RATE": "100000", "ML_MUTATION_BURST": "100000"}


class Served:
    """One `serve` (its web process, its projector and deliver processes) against `database_url`."""

    def __init__(self, database_url: str, folder: Path, **env: str) -> None:
        self.database_url = database_url
        self.folder = folder
        self.env = env
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self._log: IO[bytes] | None = None

    def start(self, timeout: float = 90) -> float:
        """Start and wait until it answers /health; returns how long that took."""
        began = time.monotonic()
        environ = {**os.environ, **SUITE_ENV, "DATABASE_URL": self.database_url, "ML_DATA_DIR": str(self.folder)}
        self._log = open(self.folder / f"serve-{self.port}-{self.starts}.log", "wb")  # noqa: SIM115
        self.starts += 1
        self.process = subprocess.Popen(
            [str(CLI), "serve", "--no-demo", "--port", str(self.port)],
            env={**environ, **self.env},
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        while True:
            try:
                if httpx.get(self.url + "/health", timeout=2).status_code == 200:
                    return time.monotonic() - began
            except httpx.TransportError:
                pass
            if self.process.poll() is not None or time.monotonic() - began > timeout:
                raise AssertionError(f"serve did not start:\n{self.output()}")
            time.sleep(0.05)

    def projector(self) -> int:
        """The pid of its `measure-ledger project` process."""
        assert self.process is not None
        return _projector_of(self.process.pid)

    def kill(self) -> None:
        """kill -9 of the web process (its projector and deliver processes end with it)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)
        self.process = None
        self._close_log()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            interrupt(self.process)
        self.process = None
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def output(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.folder.glob("serve-*.log")))
