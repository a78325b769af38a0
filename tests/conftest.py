"""Every test talks to a real PostgreSQL.

With DATABASE_URL set (CI sets it to the machine's server), each test run
creates fresh databases on that server and drops them afterwards; without
it, the run starts an embedded PostgreSQL in a temporary folder.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import psycopg
import pytest

from service.embedded import embedded_postgres
from service.settings import eventsourcing_env, with_database
from tests.receiver import Receiver

DatabaseFactory = Callable[[], str]


@pytest.fixture(scope="session")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A PostgreSQL server's URL: the configured one, or an embedded one."""
    configured = os.environ.get("DATABASE_URL")
    if configured:
        yield configured
        return
    with embedded_postgres(Path(tmp_path_factory.mktemp("embedded"))) as url:
        yield url


@pytest.fixture(scope="session")
def new_database(server_url: str) -> Iterator[DatabaseFactory]:
    """Make an empty database on the test server; all are dropped at the end."""
    made: list[str] = []

    def make() -> str:
        name = f"ml_test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        made.append(name)
        return with_database(server_url, name)

    yield make
    with psycopg.connect(server_url, autocommit=True) as conn:
        for name in made:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def database_url(new_database: DatabaseFactory) -> str:
    """A fresh, empty database for one test."""
    return new_database()


@pytest.fixture
def es_env(database_url: str) -> dict[str, str]:
    """eventsourcing settings for the test's database."""
    return eventsourcing_env(database_url)


@pytest.fixture
def stack() -> Iterator[ExitStack]:
    with ExitStack() as s:
        yield s


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook receiver on a loopback port, for the test (tests/receiver.py)."""
    r = Receiver().start()
    yield r
    r.stop()
