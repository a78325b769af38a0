"""Unexpected errors are masked; production, public read-only and CORS settings do what they say.

Three servers share one database: the ordinary one (it runs the projection and
takes the writes), a production one (no GraphiQL, no introspection, one allowed
origin) and a public read-only one. The last two only read.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, NamedTuple

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from service import downloads, read_model
from service.auth import tokens
from service.auth.tokens import create_token
from tests.e2e import documents as doc
from tests.e2e.given import a_plan, criminal_damage
from tests.e2e.live import GraphQLClient, serving
from tests.e2e.principals import downloaded, first_message, posted
from tests.e2e.ws_client import graphql_ws

DASHBOARD_ORIGIN = "https://dashboard.example"
SECRET_DETAIL = "could not connect to 10.1.2.3 as ledger_owner password=hunter2"


class Servers(NamedTuple):
    ordinary: GraphQLClient  # with an operator token
    production: str
    public: str
    plan_id: str
    measure_id: str


@pytest.fixture(scope="module")
def servers(shared_database: str) -> Iterator[Servers]:
    """The three servers on the module's database, and a plan whose measure 5.1 has a Q1 figure."""
    reader = {"run_projection": False}
    locked_down = {**reader, "graphiql": False, "introspection": False, "allowed_origins": (DASHBOARD_ORIGIN,)}
    with (
        serving(shared_database) as ordinary,
        serving(shared_database, **locked_down) as production,
        serving(shared_database, **reader, public_read=True) as public,
    ):
        operator = GraphQLClient(ordinary.url, create_token(shared_database, "operator@ledger.example"))
        plan_id = a_plan(operator)
        measure_id = criminal_damage(operator, plan_id)["id"]
        q1 = {"measureId": measure_id, "component": "total", "quarter": "Q1", "value": "492"}
        operator.execute(doc.SUBMIT_FIGURE, {"input": q1})
        yield Servers(operator, production.url, public.url, plan_id, measure_id)


def boom(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError(SECRET_DETAIL)


# ----- unexpected errors


def test_an_unexpected_error_is_internal_with_a_request_id_and_no_detail(
    servers: Servers, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(read_model, "plans", boom)  # the server runs in this process: it sees the patch

    response = servers.ordinary.post("{ plans { id } }")

    assert response.status_code == 200
    [error] = response.json()["errors"]
    request_id = response.headers["x-request-id"]
    assert error["extensions"] == {"code": "INTERNAL", "requestId": request_id}
    assert error["message"] == f"Internal server error (request {request_id})"
    assert error["path"] == ["plans"]
    for leak in ("hunter2", "10.1.2.3", "RuntimeError", "Traceback", ".py"):
        assert leak not in response.text


def test_a_failure_before_execution_is_a_503_with_a_request_id_and_no_detail(
    servers: Servers, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tokens, "find_token", boom)  # say, the token table is unreachable

    response = servers.ordinary.post("{ plans { id } }")

    assert response.status_code == 503
    assert response.json() == {"errors": [{"message": "Service unavailable", "extensions": {"code": "INTERNAL"}}]}
    assert re.fullmatch("[0-9a-f]{16}", response.headers["x-request-id"])


def test_an_unexpected_error_in_a_download_is_internal_with_no_detail(
    servers: Servers, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(downloads, "export_plan_yaml", boom)

    response = httpx.get(
        f"{servers.ordinary.url}/plans/{servers.plan_id}/export",
        headers={"authorization": f"Bearer {servers.ordinary.token}"},
    )

    assert response.status_code == 500
    request_id = response.headers["x-request-id"]
    assert response.json() == {
        "errors": [
            {
                "message": f"Internal server error (request {request_id})",
                "extensions": {"code": "INTERNAL", "requestId": request_id},
            }
        ]
    }


def ws_url(http_url: str) -> str:
    return http_url.replace("http://", "ws://") + "/graphql"


def test_an_unexpected_error_over_websocket_is_internal_with_no_detail(
    servers: Servers, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(read_model, "plans", boom)

    message = first_message(ws_url(servers.ordinary.url), str(servers.ordinary.token), "{ plans { id } }", {})

    assert message["type"] == "next", message
    assert message["payload"]["errors"] == [
        {
            "message": "Internal server error",
            "extensions": {"code": "INTERNAL"},
            "path": ["plans"],
            "locations": [{"line": 1, "column": 3}],
        }
    ]
    assert "hunter2" not in str(message)


@pytest.mark.parametrize(
    ("document", "says"),
    [
        ("subscription {", "Syntax Error"),
        ("subscription { nope }", "Cannot query field 'nope'"),
        ("subscription { statusChanged { quarter } ledgerEvents { action } }", "only one top level field"),
    ],
    ids=["syntax error", "unknown field", "two fields"],
)
def test_a_document_refused_over_websocket_is_an_error_message_with_a_code(
    servers: Servers, document: str, says: str
) -> None:
    message = first_message(ws_url(servers.ordinary.url), str(servers.ordinary.token), document, {})

    assert message["type"] == "error", message
    [error] = message["payload"]
    assert error["extensions"] == {"code": "VALIDATION"}
    assert says in error["message"]


# ----- production mode


def test_production_mode_serves_no_graphiql(servers: Servers) -> None:
    response = httpx.get(servers.production + "/graphql", headers={"accept": "text/html"})

    assert response.status_code == 404
    assert "graphiql" not in response.text.lower()


@pytest.mark.parametrize(
    "query", ["{ __schema { types { name } } }", '{ __type(name: "Plan") { fields { name } } }'], ids=["schema", "type"]
)
def test_production_mode_refuses_introspection(servers: Servers, query: str) -> None:
    client = GraphQLClient(servers.production, servers.ordinary.token)

    errors = client.errors(query)

    assert {e["extensions"]["code"] for e in errors} == {"VALIDATION"}
    assert errors[0]["message"].startswith("GraphQL introspection has been disabled")
    assert client.execute("{ __typename }") == {"__typename": "Query"}


def test_the_ordinary_server_allows_introspection(servers: Servers) -> None:
    types = servers.ordinary.execute("{ __schema { types { name } } }")["__schema"]["types"]

    assert "Measure" in {t["name"] for t in types}


# ----- public read-only mode, and anonymous callers without it

CURRENT = "query($id: ID!) { measure(id: $id) { status components { figures { quarter value } } } }"


def test_public_read_lets_anyone_read_current_figures(servers: Servers) -> None:
    anonymous = GraphQLClient(servers.public)

    plans = anonymous.execute("{ plans { id } }")["plans"]
    measure = anonymous.execute(CURRENT, {"id": servers.measure_id})["measure"]

    assert {"id": servers.plan_id} in plans
    assert measure["components"][0]["figures"][0] == {"quarter": "Q1", "value": "492"}


@pytest.mark.parametrize(
    ("query", "needs"),
    [
        ("query($id: ID!) { measure(id: $id) { history { actor } } }", "auditor"),
        ('query($id: ID!) { measure(id: $id, asOf: "2030-01-01T00:00:00Z") { status } }', "auditor"),
        ("{ auditTrail { nodes { actor } } }", "auditor"),
        ("{ auditDigest { position } }", "auditor"),
        (
            'mutation($id: ID!) { updateCommentary(input: {measureId: $id, quarter: Q1, text: "hi"}) { version } }',
            "submitter",
        ),
    ],
    ids=["history", "asOf", "auditTrail", "auditDigest", "write"],
)
def test_public_read_does_not_open_history_the_audit_trail_or_writes(servers: Servers, query: str, needs: str) -> None:
    outcome = posted(GraphQLClient(servers.public), query, {"id": servers.measure_id} if "$id" in query else None)

    # Anonymous: the remedy is to authenticate, so UNAUTHENTICATED, naming the role a token would need.
    assert outcome.codes == ["UNAUTHENTICATED"], outcome.body
    assert f"needs a bearer token with the {needs} role" in outcome.errors[0]["message"]
    assert outcome.errors[0]["extensions"]["requiredRole"] == needs


def test_public_read_does_not_open_the_auditor_s_downloads(servers: Servers) -> None:
    download = downloaded(servers.public, f"/plans/{servers.plan_id}/export", None)
    trail = downloaded(servers.public, "/audit/export", None)

    assert download.status == trail.status == 401
    assert download.codes == trail.codes == ["UNAUTHENTICATED"]
    assert "needs a bearer token with the auditor role" in download.errors[0]["message"]


async def test_public_read_does_not_open_anonymous_subscriptions(servers: Servers) -> None:
    with pytest.raises(ConnectionClosed) as closed:
        async with graphql_ws(ws_url(servers.public), {}):
            pass

    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403


def test_public_read_still_refuses_a_bad_token_rather_than_reading_anonymously(servers: Servers) -> None:
    response = GraphQLClient(servers.public, "mlt_deadbeef_forged").post("{ plans { id } }")

    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize(
    "query",
    ["{ plans { id } }", "{ auditTrail { nodes { actor } } }", "{ auditDigest { position } }"],
)
def test_without_public_read_an_anonymous_caller_is_unauthenticated(servers: Servers, query: str) -> None:
    outcome = posted(servers.ordinary.as_(None), query)

    assert outcome.codes == ["UNAUTHENTICATED"]
    assert "bearer token" in outcome.errors[0]["message"]


def test_without_public_read_an_anonymous_download_is_a_401(servers: Servers) -> None:
    outcome = downloaded(servers.ordinary.url, f"/plans/{servers.plan_id}/export", None)

    assert outcome.status == 401 and outcome.codes == ["UNAUTHENTICATED"]


# ----- the front door


def test_in_production_the_front_page_leaves_out_graphiql_and_the_schema(servers: Servers) -> None:
    front = httpx.get(servers.production + "/")
    graphiql = httpx.get(servers.production + "/graphql", headers={"accept": "text/html"})
    schema = httpx.get(servers.production + "/schema.graphql")

    assert front.status_code == 200
    assert "GraphiQL is turned off here" in front.text
    assert 'href="/schema.graphql"' not in front.text
    assert graphiql.status_code == 404
    assert schema.status_code == 404


# ----- CORS


def preflight(url: str, origin: str, *headers: str) -> httpx.Response:
    """A browser's preflight of a POST to /graphql with a token, JSON and `headers`."""
    return httpx.options(
        url + "/graphql",
        headers={
            "origin": origin,
            "access-control-request-method": "POST",
            "access-control-request-headers": ", ".join(["authorization", "content-type", *headers]),
        },
    )


def test_a_preflight_from_a_configured_origin_is_allowed(servers: Servers) -> None:
    response = preflight(servers.production, DASHBOARD_ORIGIN)

    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == DASHBOARD_ORIGIN
    assert "authorization" in response.headers["access-control-allow-headers"].lower()


@pytest.mark.parametrize(
    "wanted",
    [
        ["if-none-match"],
        ["traceparent", "tracestate", "x-request-id"],
        ["x-min-position"],
        ["apollographql-client-name", "apollographql-client-version"],
    ],
    ids=["to revalidate", "to trace", "to read its own writes from a replica", "as Apollo Client"],
)
def test_a_browser_app_may_send_the_headers_it_needs(servers: Servers, wanted: list[str]) -> None:
    response = preflight(servers.production, DASHBOARD_ORIGIN, *wanted)

    assert response.status_code == 200, response.text
    allowed = {h.strip().lower() for h in response.headers["access-control-allow-headers"].split(",")}
    assert set(wanted) <= allowed


def test_a_browser_app_may_read_the_etag_and_the_request_id(servers: Servers) -> None:
    client = GraphQLClient(servers.production, servers.ordinary.token)

    response = client.post("query($id: ID!) { plan(id: $id) { id } }", {"id": servers.plan_id}, origin=DASHBOARD_ORIGIN)

    assert response.headers["etag"]
    exposed = {h.strip().lower() for h in response.headers["access-control-expose-headers"].split(",")}
    assert {"etag", "x-request-id"} <= exposed


@pytest.mark.parametrize("server", ["production", "ordinary"])
def test_a_preflight_from_another_origin_gets_no_allow_origin(servers: Servers, server: str) -> None:
    url = servers.production if server == "production" else servers.ordinary.url

    response = preflight(url, "https://evil.example")

    assert "access-control-allow-origin" not in response.headers


def test_a_request_from_a_configured_origin_may_read_the_response(servers: Servers) -> None:
    client = GraphQLClient(servers.production, servers.ordinary.token)

    allowed = client.post("{ plans { id } }", origin=DASHBOARD_ORIGIN)
    other = client.post("{ plans { id } }", origin="https://evil.example")

    assert allowed.headers["access-control-allow-origin"] == DASHBOARD_ORIGIN
    assert "access-control-allow-origin" not in other.headers
