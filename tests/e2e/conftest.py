from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from service.app import create_app
from service.settings import Settings
from service.tokens import create_token
from tests.e2e.live import GraphQLClient, LiveServer


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
