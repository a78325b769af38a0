"""A body that cannot be read, nested too deep for the parser or not UTF-8, is a 400 with a GraphQL error,
never a 5xx.

A JSON text of a thousand nested arrays is 2 KB, and parsing it recursively reaches Python's recursion limit: it
must be refused as malformed input, over HTTP (POST and GET) and over WebSocket alike.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from tests.e2e.live import GraphQLClient
from tests.e2e.ws_client import graphql_ws

QUERY = "query($v: [String]) { auditDigest { position } }"


@pytest.fixture(scope="module")
def client(shared_client: GraphQLClient) -> GraphQLClient:
    return shared_client


def arrays(depth: int) -> str:
    return "[" * depth + "]" * depth


def objects(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


def body(variables: str) -> str:
    return '{"query": ' + json.dumps(QUERY) + ', "variables": {"v": ' + variables + "}}"


BODIES = {
    "990 nested arrays as the body": arrays(990),
    "variables 1,000 arrays deep": body(arrays(1000)),
    "variables 1,000 objects deep": body(objects(1000)),
    "variables 40 arrays deep": body(arrays(40)),
    "extensions 100,000 arrays deep": '{"query": "{ auditDigest { position } }", "extensions": ' + arrays(10**5) + "}",
}


def assert_refused_as_malformed(response: httpx.Response) -> None:
    assert response.status_code == 400, response.text
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "VALIDATION", error
    assert "nested too deep" in error["message"], error


@pytest.mark.parametrize("sent", BODIES.values(), ids=BODIES.keys())
@pytest.mark.parametrize("accept", ["application/json", "application/graphql-response+json"])
def test_a_body_nested_too_deep_is_a_400_naming_the_problem(client: GraphQLClient, sent: str, accept: str) -> None:
    response = httpx.post(
        client.url + "/graphql",
        content=sent,
        headers={"content-type": "application/json", "accept": accept, "authorization": f"Bearer {client.token}"},
        timeout=30,
    )

    assert_refused_as_malformed(response)


@pytest.mark.parametrize("variables", [arrays(1000), objects(1000)], ids=["arrays", "objects"])
def test_variables_nested_too_deep_in_a_get_are_a_400(client: GraphQLClient, variables: str) -> None:
    response = httpx.get(
        client.url + "/graphql",
        params={"query": QUERY, "variables": '{"v": ' + variables + "}"},
        headers={"accept": "application/json", "authorization": f"Bearer {client.token}"},
        timeout=30,
    )

    assert_refused_as_malformed(response)


def test_the_service_still_answers_after_deep_bodies(client: GraphQLClient) -> None:
    for sent in BODIES.values():
        httpx.post(client.url + "/graphql", content=sent, headers={"content-type": "application/json"}, timeout=30)

    assert "auditDigest" in client.execute("{ auditDigest { position } }")


def test_a_websocket_message_nested_too_deep_closes_the_socket_as_malformed_saying_why(client: GraphQLClient) -> None:
    url = client.url.replace("http://", "ws://") + "/graphql"
    subscribe = {"id": "deep", "type": "subscribe", "payload": {"query": "subscription { ledgerEvents { position } }"}}

    async def close_of(variables: str) -> ConnectionClosed:
        async with graphql_ws(url, {"token": client.token}) as ws:
            await ws.ws.send(json.dumps(subscribe)[:-2] + ', "variables": {"v": ' + variables + "}}}")
            with pytest.raises(ConnectionClosed) as closed:
                async with asyncio.timeout(10):
                    await ws.ws.recv()
            return closed.value

    async def still_served() -> dict[str, Any]:
        async with graphql_ws(url, {"token": client.token}) as ws:
            await ws.ws.send(json.dumps({"type": "ping"}))
            async with asyncio.timeout(10):
                pong: dict[str, Any] = json.loads(await ws.ws.recv())
            return pong

    for variables in (arrays(1000), objects(1000), arrays(40)):
        closed = asyncio.run(close_of(variables))

        assert closed.rcvd is not None and closed.rcvd.code == 4400, closed
        assert "nested too deep" in closed.rcvd.reason, closed.rcvd.reason
    assert asyncio.run(still_served())["type"] == "pong"


DOCUMENTS = {
    "a list literal 1,900 deep": "{ auditDigest(x: " + "[" * 1900 + "]" * 1900 + ") { position } }",
    "selection sets 600 deep": "{ " + "plans { " * 600 + "id" + " }" * 601,
}


@pytest.mark.parametrize("query", DOCUMENTS.values(), ids=DOCUMENTS.keys())
def test_a_document_nested_too_deep_is_refused_never_a_5xx(client: GraphQLClient, query: str) -> None:
    response = client.post(query, accept="application/graphql-response+json")

    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["extensions"]["code"] in ("VALIDATION", "LIMIT_EXCEEDED"), response.text


@pytest.mark.parametrize(
    "sent",
    [b"\xff\xfe\x00garbage", b'{"query": "{ auditDigest { position } }", "x": "\xe9"}', bytes(range(256))],
    ids=["random bytes", "latin-1 in a string", "every byte"],
)
def test_a_body_that_is_not_utf8_is_a_400(client: GraphQLClient, sent: bytes) -> None:
    response = httpx.post(
        client.url + "/graphql",
        content=sent,
        headers={"content-type": "application/json", "authorization": f"Bearer {client.token}"},
        timeout=30,
    )

    assert response.status_code == 400, response.text
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "VALIDATION", error
    assert "UTF-8" in error["message"], error
