"""After its PostgreSQL restarts, the service answers as before: no 503 on a connection the restart closed."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from service.app import create_app
from service.auth.tokens import create_token
from service.settings import Settings
from tests.e2e import documents as doc
from tests.e2e.given import a_plan, criminal_damage
from tests.e2e.live import GraphQLClient, LiveServer
from tests.own_postgres import OwnPostgres
from tests.tcp_proxy import SilentProxy

pytestmark = pytest.mark.slow  # starts and restarts a PostgreSQL of its own

PLAN = {
    "partnership": "Safer Stockton Partnership",
    "title": "Community Safety Plan 2012-13",
    "year": "2012-13",
    "periodStart": "2012-04-01",
    "periodEnd": "2013-03-31",
}


@pytest.fixture
def own_server(tmp_path: pytest.TempPathFactory) -> Iterator[OwnPostgres]:
    server = OwnPostgres(tmp_path / "own-postgres").init().start()  # type: ignore[operator]
    yield server
    if server.running():
        server.stop()


@pytest.fixture
def client(own_server: OwnPostgres) -> Iterator[GraphQLClient]:
    database = own_server.new_database()
    live = LiveServer(create_app(Settings(database_url=database, load_demo=False, pool_size=4))).start()
    yield GraphQLClient(live.url, create_token(database, "alice@stockton.gov.uk"))
    live.stop()


def test_reads_and_writes_succeed_as_soon_as_the_database_is_back(
    own_server: OwnPostgres, client: GraphQLClient
) -> None:
    measure_id = criminal_damage(client, a_plan(client))["id"]
    # Every pooled connection in use at once, so each is open when the server goes.
    with ThreadPoolExecutor(8) as threads:
        list(threads.map(lambda _: client.execute(doc.MEASURE, {"id": measure_id}), range(16)))

    own_server.restart()

    answers = [client.post(doc.MEASURE, {"id": measure_id}) for _ in range(8)]
    with ThreadPoolExecutor(8) as threads:
        answers += list(threads.map(lambda _: client.post(doc.MEASURE, {"id": measure_id}), range(16)))
    assert [a.status_code for a in answers] == [200] * len(answers), [a.text for a in answers if a.status_code != 200]
    assert all("errors" not in a.json() for a in answers), [a.text for a in answers if "errors" in a.json()]

    for quarter, value in (("Q1", "492"), ("Q2", "995")):
        written = client.post(
            doc.SUBMIT_FIGURE,
            {"input": {"measureId": measure_id, "component": "total", "quarter": quarter, "value": value}},
        )
        assert written.status_code == 200, written.text
        body = written.json()
        assert "errors" not in body, body
        assert body["data"]["submitFigure"]["position"] > 0
    assert client.execute("{ auditDigest { position } }")["auditDigest"]["position"] > 0


def test_a_token_is_checked_after_the_restart_without_a_503(own_server: OwnPostgres, client: GraphQLClient) -> None:
    with ThreadPoolExecutor(8) as threads:
        list(threads.map(lambda _: client.execute("{ plans { id } }"), range(16)))

    own_server.restart()

    answers = [client.post("{ plans { id } }") for _ in range(6)]
    assert [a.status_code for a in answers] == [200] * 6, [a.text for a in answers]
    assert client.as_("mlt_" + uuid.uuid4().hex).post("{ plans { id } }").status_code == 401


def test_connections_lost_without_a_word_are_replaced_and_each_request_answered(database_url: str) -> None:
    proxy = SilentProxy(database_url)
    live = LiveServer(create_app(Settings(database_url=proxy.url(database_url), load_demo=False, pool_size=4)))
    client = GraphQLClient(live.start().url, create_token(database_url, "alice@stockton.gov.uk"))
    try:
        client.execute(doc.CREATE_PLAN, {"input": PLAN})
        with ThreadPoolExecutor(8) as threads:
            list(threads.map(lambda _: client.execute("{ plans { id } }"), range(16)))

        proxy.lose_all()

        answers = [client.post("{ plans { id title } }") for _ in range(8)]
        assert [a.status_code for a in answers] == [200] * 8, [a.text for a in answers]
        assert all(len(a.json()["data"]["plans"]) == 1 for a in answers), [a.text for a in answers]
        again = {**PLAN, "title": "Community Safety Plan 2013-14", "year": "2013-14"}
        assert client.execute(doc.CREATE_PLAN, {"input": again})["createPlan"]["position"] > 0
    finally:
        live.stop()
        proxy.close()
