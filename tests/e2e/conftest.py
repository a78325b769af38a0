from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from service.app import create_app
from service.auth.tokens import create_token
from service.settings import Settings
from tests.conftest import DatabaseFactory
from tests.e2e.live import GraphQLClient, LiveServer


@pytest.fixture(scope="module")
def shared_database(new_database: DatabaseFactory) -> str:
    """One fresh database for a whole module, where each test makes its own objects."""
    return new_database()


@pytest.fixture(scope="module")
def shared_client(shared_database: str) -> Iterator[GraphQLClient]:
    """One server for a whole module, and an operator's client of it."""
    live = LiveServer(create_app(Settings(database_url=shared_database, load_demo=False))).start()
    yield GraphQLClient(live.url, create_token(shared_database, "alice@stockton.gov.uk"))
    live.stop()


@pytest.fixture
def server(database_url: str) -> Iterator[LiveServer]:
    """The whole service on a real port, with its own fresh database."""
    live = LiveServer(create_app(Settings(database_url=database_url, load_demo=False))).start()
    yield live
    live.stop()


@pytest.fixture
def token(database_url: str) -> str:
    return create_token(database_url, "alice@stockton.gov.uk")


@pytest.fixture
def client(server: LiveServer, token: str) -> GraphQLClient:
    return GraphQLClient(server.url, token)


@pytest.fixture
def event_count(database_url: str) -> object:
    def count() -> int:
        with psycopg.connect(database_url) as conn:
            row = conn.execute("SELECT count(*) FROM ledger_events").fetchone()
            assert row is not None
            return int(row[0])

    return count


@pytest.fixture
def bob(client: GraphQLClient, database_url: str) -> GraphQLClient:
    """A second principal, from the police."""
    return client.as_(create_token(database_url, "bob@police.example"))
