"""The fault suite's own PostgreSQL, its service processes and their clients' set-up.

Every scenario runs on a fresh database of a PostgreSQL server the suite starts itself (tests/faults/postgres.py),
whatever DATABASE_URL says: it stops and restarts that server under load.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from service.auth.tokens import create_token
from tests.e2e.given import a_plan, criminal_damage
from tests.e2e.live import GraphQLClient
from tests.faults.postgres import new_database, own_server
from tests.faults.served import Served
from tests.replication.cluster import Server


@pytest.fixture(scope="session")
def own_postgres() -> Iterator[Server]:
    # Not under pytest's own temporary folder: another pytest run makes that private to root again, and the
    # server's user must reach its data folder at every restart.
    folder = Path(tempfile.mkdtemp(prefix="ml-faults-"))
    try:
        server = own_server(folder)
        server.start()
        yield server
        if server.running():
            server.stop()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def fault_database(own_postgres: Server) -> str:
    """A fresh database on the suite's own server, which is up when the scenario starts."""
    if not own_postgres.running():
        own_postgres.start()
    return new_database(own_postgres)


@pytest.fixture
def operator_token(fault_database: str) -> str:
    return create_token(fault_database, "operator@stockton.gov.uk")


@pytest.fixture
def serve(fault_database: str, tmp_path: Path) -> Iterator[Callable[..., Served]]:
    """Make `measure-ledger serve` processes on the scenario's database; each is stopped at the end."""
    made: list[Served] = []

    def make(**env: str) -> Served:
        served = Served(fault_database, tmp_path, **env)
        made.append(served)
        return served

    yield make
    for served in made:
        served.stop()


def measures_to_write_on(url: str, token: str, count: int) -> tuple[str, list[str]]:
    """A plan with `count` measures, one per writer (writers of one measure would race: see test_racing_writers)."""
    client = GraphQLClient(url, token)
    plan_id = a_plan(client)
    return plan_id, [criminal_damage(client, plan_id, f"5.{n + 1}")["id"] for n in range(count)]
