from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial

import pytest

from service.auth.tokens import create_token
from tests.conftest import DatabaseFactory
from tests.e2e import principals
from tests.e2e.live import GraphQLClient, LiveServer, serving


@pytest.fixture(scope="module")
def shared_database(new_database: DatabaseFactory) -> str:
    """One fresh database for a whole module, where each test makes its own objects."""
    return new_database()


@pytest.fixture(scope="module")
def shared_client(shared_database: str) -> Iterator[GraphQLClient]:
    """One server for a whole module, and an operator's client of it."""
    with serving(shared_database) as live:
        yield GraphQLClient(live.url, create_token(shared_database, "alice@stockton.gov.uk"))


@pytest.fixture
def server(database_url: str) -> Iterator[LiveServer]:
    """The whole service on a real port, with its own fresh database."""
    with serving(database_url) as live:
        yield live


@pytest.fixture
def token(database_url: str) -> str:
    return create_token(database_url, "alice@stockton.gov.uk")


@pytest.fixture
def client(server: LiveServer, token: str) -> GraphQLClient:
    return GraphQLClient(server.url, token)


@pytest.fixture
def event_count(database_url: str) -> Callable[[], int]:
    """How many events the test's database holds, asked afresh at each call."""
    return partial(principals.event_count, database_url)


@pytest.fixture
def bob(client: GraphQLClient, database_url: str) -> GraphQLClient:
    """A second principal, from the police."""
    return client.as_(create_token(database_url, "bob@police.example"))
