"""Status-change and ledger-event subscriptions across real server processes.

Two (or three) uvicorn processes share one PostgreSQL; all may lead the
projection, one wins. Writes go to one process and subscribers listen on
another, disconnect, reconnect elsewhere with their last cursor, and outlive
a restart of the whole service: each message must arrive exactly once, in
order. Expected messages are read from the status_changes and audit_entries
tables, the facts the subscriptions deliver.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any, NamedTuple

import psycopg
import pytest
from gql import Client, GraphQLRequest
from gql.transport.exceptions import TransportQueryError
from gql.transport.websockets import WebsocketsTransport
from websockets.exceptions import ConnectionClosed, InvalidStatus

from service.auth.tokens import create_token
from service.cursors import ledger_event_cursor, status_change_cursor
from tests.e2e.given import a_plan, criminal_damage, redefine_direction, submit_total
from tests.e2e.live import GraphQLClient
from tests.e2e.processes import ServiceProcess, start_all
from tests.e2e.ws_client import graphql_ws

pytestmark = pytest.mark.slow  # runs several service processes, and restarts them

STATUS_CHANGED = """subscription($planId: ID, $measureId: ID, $after: String) {
  statusChanged(planId: $planId, measureId: $measureId, after: $after) {
    cursor position recordedAt actor planId measureId measureNumber quarter from to reason
  }
}"""

LEDGER_EVENTS = """subscription($planId: ID, $after: String) {
  ledgerEvents(planId: $planId, after: $after) {
    position cursor recordedAt actor action planId measureId measureNumber component quarter field before after reason
  }
}"""

ALLOWED_ORIGIN = "https://dashboard.example"
Change = tuple[int, str, str, str]  # position, quarter, from, to


class Services(NamedTuple):
    a: ServiceProcess
    b: ServiceProcess
    strict: ServiceProcess  # tiny buffers and subscription limit, one allowed origin

    def all(self) -> tuple[ServiceProcess, ...]:
        return (self.a, self.b, self.strict)


@pytest.fixture(scope="module")
def shared_token(shared_database: str) -> str:
    return create_token(shared_database, "integration@stockton.gov.uk")


@pytest.fixture(scope="module")
def services(shared_database: str) -> Iterator[Services]:
    """Three processes on one database, started together."""
    strict_env = {
        "ML_SUBSCRIPTION_BUFFER": "2",
        "ML_MAX_SUBSCRIPTIONS_PER_CONNECTION": "2",
        "ML_ALLOWED_ORIGINS": ALLOWED_ORIGIN,
    }
    started = start_all(
        [ServiceProcess(shared_database), ServiceProcess(shared_database), ServiceProcess(shared_database, strict_env)]
    )
    yield Services(*started)
    for process in started:
        process.stop()


@pytest.fixture(autouse=True)
def no_subscribers_left(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each test on the shared processes, wait for its subscriptions to be gone from every feed.

    A live subscription without `after` starts when it joins its feed, so a test
    waits for the count to go up before writing; leftovers would fool that wait.
    """
    yield
    if "services" in request.fixturenames:
        for process in request.getfixturevalue("services").all():
            process.wait_for_subscribers("status_changes", 0)
            process.wait_for_subscribers("audit_entries", 0)


# ----- set-ups through the API, run in a thread so the event loop keeps serving sockets


def a_measure(client: GraphQLClient) -> tuple[str, str]:
    plan_id = a_plan(client)
    return plan_id, criminal_damage(client, plan_id)["id"]


def recorded_changes(database_url: str, measure_id: str) -> list[Change]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT position, quarter, from_status, to_status FROM status_changes WHERE measure_id = %s "
            "ORDER BY position, quarter",
            (uuid.UUID(measure_id),),
        ).fetchall()
    return [(int(p), str(q), str(f), str(t)) for p, q, f, t in rows]


def recorded_event_positions(database_url: str, plan_id: str) -> list[int]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT position FROM audit_entries WHERE plan_id = %s ORDER BY position", (uuid.UUID(plan_id),)
        ).fetchall()
    return [int(r[0]) for r in rows]


def changes(messages: list[dict[str, Any]]) -> list[Change]:
    return [(m["position"], m["quarter"], m["from"], m["to"]) for m in messages]


def after(messages: list[Change], key: tuple[int, str]) -> list[Change]:
    return [m for m in messages if (m[0], m[1]) > key]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def transport(process: ServiceProcess, token: str) -> WebsocketsTransport:
    return WebsocketsTransport(
        url=process.ws_url,
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],  # graphql-transport-ws
        init_payload=bearer(token),
        connect_timeout=10,
        close_timeout=5,
        ack_timeout=10,
    )


# ----- across processes


async def test_a_change_written_through_one_process_reaches_a_subscriber_on_another(
    services: Services, shared_token: str
) -> None:
    writer = GraphQLClient(services.a.url, shared_token)
    plan_id, measure_id = await asyncio.to_thread(a_measure, writer)
    request = GraphQLRequest(STATUS_CHANGED, variable_values={"measureId": measure_id})
    async with Client(transport=transport(services.b, shared_token)) as session:
        stream = session.subscribe(request)
        first = asyncio.ensure_future(anext(stream))
        await asyncio.to_thread(services.b.wait_for_subscribers, "status_changes", 1)
        position = await asyncio.to_thread(submit_total, writer, measure_id, "Q1", "492")
        message = (await asyncio.wait_for(first, 10))["statusChanged"]
        await stream.aclose()
    assert message == {
        "cursor": status_change_cursor((position, "Q1")),
        "position": position,
        "recordedAt": message["recordedAt"],
        "actor": "integration@stockton.gov.uk",
        "planId": plan_id,
        "measureId": measure_id,
        "measureNumber": "5.1",
        "quarter": "Q1",
        "from": "NO_DATA",
        "to": "ON_TRACK",
        "reason": None,
    }
    assert message["recordedAt"].endswith("+00:00")


async def test_a_subscriber_that_reconnects_to_another_process_gets_exactly_what_it_missed(
    services: Services, shared_database: str, shared_token: str
) -> None:
    writer = GraphQLClient(services.b.url, shared_token)
    _, measure_id = await asyncio.to_thread(a_measure, writer)
    variables = {"measureId": measure_id}
    async with graphql_ws(services.a.ws_url, bearer(shared_token)) as ws:
        await ws.subscribe("1", STATUS_CHANGED, variables)
        await asyncio.to_thread(services.a.wait_for_subscribers, "status_changes", 1)
        for quarter, value in (("Q1", "492"), ("Q2", "990"), ("Q3", "1500")):
            await asyncio.to_thread(submit_total, writer, measure_id, quarter, value)
        flipped = await asyncio.to_thread(redefine_direction, writer, measure_id, "INCREASE")
        # Processed: three changes, then the first of the three the redefinition made; then the socket drops.
        received = await ws.take("1", 4, "statusChanged")
    assert changes(received)[-1] == (flipped, "Q1", "ON_TRACK", "OFF_TRACK")
    # While it is away, more changes, some at one position.
    await asyncio.to_thread(redefine_direction, writer, measure_id, "REDUCE")
    await asyncio.to_thread(submit_total, writer, measure_id, "Q4", "1900")
    missed = after(await asyncio.to_thread(recorded_changes, shared_database, measure_id), (flipped, "Q1"))
    assert len(missed) == 6  # Q2 and Q3 of the first redefinition, three of the second, Q4

    async with graphql_ws(services.b.ws_url, {"token": shared_token}) as ws:
        await ws.subscribe("again", STATUS_CHANGED, {**variables, "after": received[-1]["cursor"]})
        replayed = await ws.take("again", len(missed), "statusChanged")
        assert changes(replayed) == missed
        assert [m["cursor"] for m in replayed] == [status_change_cursor((p, q)) for p, q, _, _ in missed]
        # Then live, with nothing repeated in between.
        live = await asyncio.to_thread(redefine_direction, writer, measure_id, "INCREASE")
        recorded = await asyncio.to_thread(recorded_changes, shared_database, measure_id)
        expected = after(recorded, (missed[-1][0], "Q4"))
        following = await ws.take("again", len(expected), "statusChanged")
        await ws.nothing_more("again")
    assert changes(following) == expected and {p for p, *_ in expected} == {live}


async def test_no_change_is_lost_when_the_listen_connections_drop(
    services: Services, shared_database: str, shared_token: str
) -> None:
    writer = GraphQLClient(services.a.url, shared_token)
    _, measure_id = await asyncio.to_thread(a_measure, writer)
    async with graphql_ws(services.b.ws_url, bearer(shared_token)) as ws:
        await ws.subscribe("1", STATUS_CHANGED, {"measureId": measure_id})
        await asyncio.to_thread(services.b.wait_for_subscribers, "status_changes", 1)
        # Every process's LISTEN connection goes; the NOTIFY of the next write reaches nobody.
        with psycopg.connect(shared_database, autocommit=True) as conn:
            dropped = conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND query = 'LISTEN \"measure_ledger_view\"'"
            ).fetchall()
        assert len(dropped) >= 2
        position = await asyncio.to_thread(submit_total, writer, measure_id, "Q1", "492")
        # Delivered once the watcher has reconnected and caught up from the table.
        [message] = await ws.take("1", 1, "statusChanged")
    assert (message["position"], message["quarter"]) == (position, "Q1")


async def test_subscribers_resume_after_the_whole_service_restarts(database_url: str, token: str) -> None:
    a, b = start_all([ServiceProcess(database_url), ServiceProcess(database_url)])
    try:
        writer = GraphQLClient(a.url, token)
        plan_id, measure_id = await asyncio.to_thread(a_measure, writer)
        setup = await asyncio.to_thread(recorded_event_positions, database_url, plan_id)
        request = GraphQLRequest(LEDGER_EVENTS, variable_values={"planId": plan_id})
        async with Client(transport=transport(b, token)) as session:
            stream = session.subscribe(request)
            first = asyncio.ensure_future(anext(stream))
            await asyncio.to_thread(b.wait_for_subscribers, "audit_entries", 1)
            q1 = await asyncio.to_thread(submit_total, writer, measure_id, "Q1", "492")
            last = (await asyncio.wait_for(first, 10))["ledgerEvents"]
            await stream.aclose()
        assert (last["position"], last["action"], last["quarter"]) == (q1, "FigureSubmitted", "Q1")
        q2 = await asyncio.to_thread(submit_total, writer, measure_id, "Q2", "990")  # missed while away
        for process in (a, b):
            process.stop()
        a, b = start_all([a, b])
        q3 = await asyncio.to_thread(submit_total, GraphQLClient(a.url, token), measure_id, "Q3", "1500")

        request = GraphQLRequest(LEDGER_EVENTS, variable_values={"planId": plan_id, "after": last["cursor"]})
        async with Client(transport=transport(b, token)) as session:
            stream = session.subscribe(request)
            replayed = [(await asyncio.wait_for(anext(stream), 10))["ledgerEvents"] for _ in range(2)]
            q4 = await asyncio.to_thread(submit_total, writer, measure_id, "Q4", "1900")
            live = (await asyncio.wait_for(anext(stream), 10))["ledgerEvents"]
            await stream.aclose()
    finally:
        for process in (a, b):
            process.stop()
    assert [m["position"] for m in replayed] == [q2, q3]
    assert [m["cursor"] for m in replayed] == [ledger_event_cursor((q2, "")), ledger_event_cursor((q3, ""))]
    assert live["position"] == q4
    assert setup + [q1, q2, q3, q4] == await asyncio.to_thread(recorded_event_positions, database_url, plan_id)


# ----- who may subscribe, and what they may ask


@pytest.mark.parametrize(
    "payload",
    [{}, {"Authorization": "Bearer mlt_0000_forged"}, {"token": "not-a-token"}, {"Authorization": 42}],
    ids=["none", "forged", "malformed", "not-a-string"],
)
async def test_a_connection_without_a_valid_token_is_closed_with_4403(
    services: Services, payload: dict[str, Any]
) -> None:
    with pytest.raises(ConnectionClosed) as closed:
        async with graphql_ws(services.a.ws_url, payload):
            pass
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403


async def test_a_page_on_another_origin_may_subscribe_only_if_allowed(services: Services, shared_token: str) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with graphql_ws(services.strict.ws_url, bearer(shared_token), origin="https://evil.example"):
            pass
    assert refused.value.response.status_code == 403
    async with graphql_ws(services.strict.ws_url, bearer(shared_token), origin=ALLOWED_ORIGIN):
        pass


@pytest.mark.parametrize(
    ("document", "variables", "field"),
    [
        (STATUS_CHANGED, {"after": "not a cursor!"}, "after"),
        (STATUS_CHANGED, {"after": ledger_event_cursor((7, ""))}, "after"),
        (STATUS_CHANGED, {"after": status_change_cursor((7, "Q5"))}, "after"),
        (LEDGER_EVENTS, {"after": status_change_cursor((7, "Q1"))}, "after"),
        (LEDGER_EVENTS, {"after": ledger_event_cursor((-7, ""))}, "after"),
        (STATUS_CHANGED, {"measureId": "5.1"}, "measureId"),
        (LEDGER_EVENTS, {"planId": "plan"}, "planId"),
    ],
    ids=["garbage", "ledger-cursor", "bad-quarter", "status-cursor", "negative", "measure-id", "plan-id"],
)
async def test_a_malformed_argument_is_a_validation_error(
    services: Services, shared_token: str, document: str, variables: dict[str, Any], field: str
) -> None:
    async with graphql_ws(services.a.ws_url, bearer(shared_token)) as ws:
        await ws.subscribe("1", document, variables)
        message = await ws.receive("1")
    assert message["type"] == "error", message
    [error] = message["payload"]
    assert error["extensions"] == {"code": "VALIDATION", "field": field}
    assert field in error["message"]


async def test_subscriptions_per_connection_are_limited(services: Services, shared_token: str) -> None:
    async with graphql_ws(services.strict.ws_url, bearer(shared_token)) as ws:
        for op_id in ("1", "2", "3"):
            await ws.subscribe(op_id, LEDGER_EVENTS)
        message = await ws.receive("3")
        assert message["type"] == "error"
        assert message["payload"][0]["extensions"] == {"code": "LIMIT_EXCEEDED"}
        assert "at most 2 subscriptions" in message["payload"][0]["message"]
        await ws.complete("1")
        await ws.subscribe("4", LEDGER_EVENTS)  # a slot is free again
        await ws.nothing_more("4")


async def test_a_subscriber_that_falls_behind_is_closed_with_limit_exceeded_and_resumes_from_its_cursor(
    services: Services, shared_database: str, shared_token: str
) -> None:
    """The strict process buffers two messages per subscriber; a redefinition brings three at once."""
    writer = GraphQLClient(services.a.url, shared_token)
    _, slow_measure = await asyncio.to_thread(a_measure, writer)
    _, other_measure = await asyncio.to_thread(a_measure, writer)
    async with graphql_ws(services.strict.ws_url, bearer(shared_token)) as ws:
        await ws.subscribe("slow", STATUS_CHANGED, {"measureId": slow_measure})
        await ws.subscribe("other", STATUS_CHANGED, {"measureId": other_measure})
        await asyncio.to_thread(services.strict.wait_for_subscribers, "status_changes", 2)
        for quarter, value in (("Q1", "492"), ("Q2", "990"), ("Q3", "1500")):
            await asyncio.to_thread(submit_total, writer, slow_measure, quarter, value)
        received = await ws.take("slow", 3, "statusChanged")
        flipped = await asyncio.to_thread(redefine_direction, writer, slow_measure, "INCREASE")
        message = await ws.receive("slow")
        assert message["type"] == "next" and message["payload"]["data"] is None
        [error] = message["payload"]["errors"]
        assert error["extensions"] == {"code": "LIMIT_EXCEEDED", "cursor": received[-1]["cursor"]}
        assert "fell behind" in error["message"] and "after" in error["message"]
        assert (await ws.receive("slow"))["type"] == "complete"
        # The other subscriber on the same process carries on.
        position = await asyncio.to_thread(submit_total, writer, other_measure, "Q1", "492")
        [other] = await ws.take("other", 1, "statusChanged")
        assert other["position"] == position
        # Resuming replays from the table, at the client's pace: nothing to overflow.
        await ws.subscribe("resumed", STATUS_CHANGED, {"measureId": slow_measure, "after": received[-1]["cursor"]})
        resumed = await ws.take("resumed", 3, "statusChanged")
    assert changes(resumed) == after(
        await asyncio.to_thread(recorded_changes, shared_database, slow_measure), (received[-1]["position"], "Q4")
    )
    assert {m["position"] for m in resumed} == {flipped}


async def test_gql_reports_a_subscriber_that_fell_behind_as_a_query_error(
    services: Services, shared_token: str
) -> None:
    writer = GraphQLClient(services.a.url, shared_token)
    _, measure_id = await asyncio.to_thread(a_measure, writer)
    for quarter, value in (("Q1", "492"), ("Q2", "990"), ("Q3", "1500")):
        await asyncio.to_thread(submit_total, writer, measure_id, quarter, value)
    request = GraphQLRequest(STATUS_CHANGED, variable_values={"measureId": measure_id})
    async with Client(transport=transport(services.strict, shared_token)) as session:
        stream = session.subscribe(request)
        first = asyncio.ensure_future(anext(stream))
        await asyncio.to_thread(services.strict.wait_for_subscribers, "status_changes", 1)
        await asyncio.to_thread(redefine_direction, writer, measure_id, "INCREASE")
        with pytest.raises(TransportQueryError) as failed:
            await asyncio.wait_for(first, 10)
        await stream.aclose()
    assert failed.value.errors is not None
    assert failed.value.errors[0]["extensions"]["code"] == "LIMIT_EXCEEDED"


def test_a_subscription_sent_over_http_is_refused_with_a_validation_error(
    services: Services, shared_token: str
) -> None:
    [error] = GraphQLClient(services.a.url, shared_token).errors(STATUS_CHANGED)
    assert error["extensions"] == {"code": "VALIDATION"}
    assert "graphql-transport-ws" in error["message"]
