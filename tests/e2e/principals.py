"""Two partnerships on one live server, tokens of every role in each, and what a call came back with.

`two_partnerships` starts the service on a fresh database and, with an
operator token, makes a plan with a measure (5.1, baseline set) in partnership
A and in partnership B; each partnership's submitter then submits Q1, so both
have an event by a role token and a status change to replay. The access tests
call the service as the principals here and compare `Outcome`s.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import jwt
import psycopg

from service.app import create_app
from service.auth.tokens import create_token
from service.cursors import ledger_event_cursor, status_change_cursor
from service.settings import Settings
from tests.e2e import documents as doc
from tests.e2e.given import a_plan, criminal_damage
from tests.e2e.live import GraphQLClient, LiveServer
from tests.e2e.ws_client import graphql_ws

ROLES = ("viewer", "auditor", "submitter", "editor", "approver", "admin")
OPERATOR = "operator@ledger.example"

# Cursors before the first message of each feed: a subscriber passing them is replayed everything it may see.
FROM_THE_START = {"statusChanged": status_change_cursor((0, "Q1")), "ledgerEvents": ledger_event_cursor((0, ""))}

STATUS_CHANGED = """subscription($planId: ID, $measureId: ID, $after: String) {
  statusChanged(planId: $planId, measureId: $measureId, after: $after) { cursor actor planId measureId quarter to }
}"""
LEDGER_EVENTS = """subscription($planId: ID, $after: String) {
  ledgerEvents(planId: $planId, after: $after) { cursor actor action planId measureId }
}"""


@dataclass
class Partnership:
    """One partnership's plan, its measure 5.1 and a token of each role (named `role@tag.example`)."""

    name: str
    tag: str
    plan_id: str
    measure_id: str
    tokens: dict[str, str] = field(default_factory=dict)

    def principal(self, role: str) -> str:
        """The name a role's token is recorded under."""
        return f"{role}@{self.tag}.example"


@dataclass
class World:
    server: LiveServer
    database_url: str
    operator: GraphQLClient
    a: Partnership
    b: Partnership

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def ws_url(self) -> str:
        return self.server.url.replace("http://", "ws://") + "/graphql"

    def as_(self, token: str | None) -> GraphQLClient:
        return GraphQLClient(self.server.url, token)

    def event_count(self) -> int:
        return event_count(self.database_url)


def event_count(database_url: str) -> int:
    """Events in the store: what a refused or failed write must leave unchanged."""
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM ledger_events").fetchone()
    assert row is not None
    return int(row[0])


def role_tokens(database_url: str, partnership: str, tag: str) -> dict[str, str]:
    return {
        role: create_token(database_url, f"{role}@{tag}.example", partnership=partnership, roles=[role])
        for role in ROLES
    }


def a_partnership(operator: GraphQLClient, database_url: str, name: str, tag: str) -> Partnership:
    plan_id = a_plan(operator, partnership=name)
    measure_id = criminal_damage(operator, plan_id)["id"]
    found = Partnership(name, tag, plan_id, measure_id, role_tokens(database_url, name, tag))
    q1 = {"measureId": measure_id, "component": "total", "quarter": "Q1", "value": "492"}
    operator.as_(found.tokens["submitter"]).execute(doc.SUBMIT_FIGURE, {"input": q1})
    return found


@contextmanager
def two_partnerships(database_url: str, settings: Settings | None = None) -> Iterator[World]:
    """A live server with partnerships A and B set up as the module's doc says; stopped on exit."""
    chosen = settings or Settings(database_url=database_url, load_demo=False)
    server = LiveServer(create_app(chosen)).start()
    try:
        operator = GraphQLClient(server.url, create_token(database_url, OPERATOR))
        a = a_partnership(operator, database_url, "Safer Stockton Partnership", "a")
        b = a_partnership(operator, database_url, "Durham Community Safety Partnership", "b")
        yield World(server, database_url, operator, a, b)
    finally:
        server.stop()


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


# ----- what came back


@dataclass
class Outcome:
    """An HTTP status and a GraphQL-shaped body, from a query, a download or a subscription's first message."""

    status: int
    body: dict[str, Any]

    @property
    def errors(self) -> list[dict[str, Any]]:
        errors: list[dict[str, Any]] = self.body.get("errors") or []
        return errors

    @property
    def ok(self) -> bool:
        return self.status == 200 and not self.errors

    @property
    def codes(self) -> list[str]:
        return [(e.get("extensions") or {}).get("code") for e in self.errors]

    @property
    def data(self) -> dict[str, Any]:
        data: dict[str, Any] = self.body.get("data") or {}
        return data


def posted(client: GraphQLClient, query: str, variables: dict[str, Any] | None = None) -> Outcome:
    response = client.post(query, variables)
    return Outcome(response.status_code, response.json())


def downloaded(url: str, path: str, token: str | None, **params: str) -> Outcome:
    """A download; its body is the JSON error, or {"text": ...} when it succeeded."""
    headers = {"authorization": f"Bearer {token}"} if token else {}
    response = httpx.get(url + path, params=params, headers=headers, timeout=30)
    if response.status_code == 200:
        return Outcome(200, {"text": response.text})
    return Outcome(response.status_code, response.json())


def first_message(
    ws_url: str, token: str, query: str, variables: dict[str, Any], timeout: float = 10
) -> dict[str, Any]:
    """The first `next`, `error` or `complete` message of one subscription over graphql-transport-ws.

    Runs its own event loop in a worker thread, so synchronous tests can subscribe too.
    """

    async def subscribe() -> dict[str, Any]:
        async with graphql_ws(ws_url, {"Authorization": f"Bearer {token}"}) as ws:
            await ws.subscribe("1", query, variables)
            return await ws.receive("1", timeout)

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, subscribe()).result(timeout + 20)


def subscribed(ws_url: str, token: str, query: str, variables: dict[str, Any]) -> Outcome:
    """A subscription's first message as an Outcome: its data, or the errors of an `error` message."""
    message = first_message(ws_url, token, query, variables)
    if message["type"] == "error":
        return Outcome(200, {"errors": message["payload"]})
    assert message["type"] == "next", message
    return Outcome(200, message["payload"])


# ----- OpenID Connect tokens for a server started with JWT_ENV

ISSUER = "https://login.stockton.example/realms/ledger"
AUDIENCE = "measure-ledger"
SECRET = "a-development-secret-of-at-least-32-bytes!"
JWT_ENV = {"ML_OIDC_ISSUER": ISSUER, "ML_OIDC_AUDIENCE": AUDIENCE, "ML_JWT_HS256_SECRET": SECRET}


def signed_jwt(
    subject: str,
    *,
    secret: str = SECRET,
    expires_in: timedelta = timedelta(minutes=5),
    **claims: Any,
) -> str:
    """An HS256 JWT from ISSUER for AUDIENCE; `claims` add to or replace the standard ones."""
    now = int(time.time())
    payload = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": subject,
        "iat": now,
        "exp": now + int(expires_in.total_seconds()),
        **claims,
    }
    return jwt.encode(payload, secret, algorithm="HS256")
