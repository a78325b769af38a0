"""Webhooks over GraphQL: an admin manages its partnership's, a real receiver gets the status changes the
API shows, and the delivery log, pausing, rotation and replay work as an admin expects."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from service.auth.tokens import create_token
from tests.e2e import documents as doc
from tests.e2e.given import a_plan, criminal_damage
from tests.e2e.live import GraphQLClient, LiveServer, local_webhooks, serving
from tests.receiver import FAIL, OK, Receiver

pytestmark = pytest.mark.timeout(120, func_only=True)

PARTNERSHIP = "Safer Stockton Partnership"
CREATE = """mutation($input: CreateWebhookInput!) { createWebhook(input: $input) {
  secret webhook { id url partnership kinds planId state cursor position createdBy } } }"""
WEBHOOK = """query($id: ID!) { webhook(id: $id) { id state pausedReason failures lastError previousSecretExpiresAt
  cursor position deliveries(first: 100) { edges { node { messageId type position cursor attempt statusCode
  latencyMs error delivered } } pageInfo { hasNextPage endCursor } } } }"""
PAUSE = """mutation($id: ID!) { pauseWebhook(input: {id: $id, reason: "receiver moving"}) {
  webhook { state pausedReason } } }"""
RESUME = "mutation($id: ID!) { resumeWebhook(input: {id: $id}) { webhook { state pausedReason } } }"
ROTATE = "mutation($id: ID!) { rotateWebhookSecret(input: {id: $id, overlapHours: 1}) { secret webhook { id } } }"
REPLAY = "mutation($id: ID!, $after: String) { replayWebhook(input: {id: $id, after: $after}) { webhook { cursor } } }"
DELETE = "mutation($id: ID!) { deleteWebhook(input: {id: $id}) { id } }"
LIST = "{ webhooks { id url } }"


@pytest.fixture
def server(database_url: str) -> Iterator[LiveServer]:
    """The service, allowed to call a receiver on 127.0.0.1, retrying quickly; it leads the deliveries."""
    with serving(database_url, webhooks=local_webhooks(retry_base_seconds=0.05, retry_max_seconds=0.2)) as live:
        yield live


@pytest.fixture
def admin(server: LiveServer, database_url: str) -> GraphQLClient:
    return GraphQLClient(server.url, create_token(database_url, "admin@stockton.gov.uk", partnership=PARTNERSHIP))


def a_webhook(client: GraphQLClient, receiver: Receiver, name: str, **extra: Any) -> dict[str, Any]:
    created = client.execute(CREATE, {"input": {"url": receiver.url(name), "kinds": ["STATUS_CHANGED"], **extra}})
    made: dict[str, Any] = created["createWebhook"]
    receiver.trust(name, made["secret"])
    return made


def flip(client: GraphQLClient, measure_id: str, times: int, done: int = 0) -> None:
    for i in range(done, done + times):
        slot = {"measureId": measure_id, "quarter": "Q1"}
        if i % 2 == 0:
            client.execute(doc.OVERRIDE_STATUS, {"input": {**slot, "status": "OFF_TRACK", "reason": "data late"}})
        else:
            client.execute(doc.CLEAR_OVERRIDE, {"input": {**slot, "reason": "data arrived"}})


def status_changes(client: GraphQLClient, measure_id: str) -> list[dict[str, Any]]:
    """The measure's status changes as the API shows them: its audit trail's status entries."""
    found = client.execute(
        "query($id: ID!) { measure(id: $id) { history { position cursor action field before after } } }",
        {"id": measure_id},
    )
    return [e for e in found["measure"]["history"] if e["field"] == "status"]


def test_an_admin_makes_a_webhook_and_its_receiver_gets_each_status_change_once_in_order_signed(
    admin: GraphQLClient, receiver: Receiver
) -> None:
    measure_id = criminal_damage(admin, a_plan(admin, PARTNERSHIP))["id"]
    made = a_webhook(admin, receiver, "crm", description="case management")

    flip(admin, measure_id, 4)
    received = receiver.wait_for("crm", 4)

    assert made["secret"].startswith("whsec_")
    assert made["webhook"]["partnership"] == PARTNERSHIP and made["webhook"]["state"] == "ACTIVE"
    assert made["webhook"]["createdBy"] == "admin@stockton.gov.uk"
    assert all(r.verified for r in receiver.received("crm"))
    data = [r.body["data"] for r in received if r.body]
    trail = status_changes(admin, measure_id)
    assert [(d["position"], d["from"], d["to"]) for d in data] == [
        (e["position"], e["before"], e["after"]) for e in trail
    ]
    assert [d["measureId"] for d in data] == [measure_id] * 4
    assert "secret" not in str(admin.execute(LIST))


def test_a_failing_receiver_shows_in_the_delivery_log_and_pausing_and_resuming_lose_nothing(
    admin: GraphQLClient, receiver: Receiver
) -> None:
    measure_id = criminal_damage(admin, a_plan(admin, PARTNERSHIP))["id"]
    hook = a_webhook(admin, receiver, "crm")["webhook"]["id"]
    receiver.set_mode("crm", FAIL)

    flip(admin, measure_id, 2)
    failing = _until(lambda: admin.execute(WEBHOOK, {"id": hook})["webhook"], lambda w: w["failures"] >= 2)
    paused = admin.execute(PAUSE, {"id": hook})["pauseWebhook"]["webhook"]
    receiver.set_mode("crm", OK)
    flip(admin, measure_id, 2, done=2)
    resumed = admin.execute(RESUME, {"id": hook})["resumeWebhook"]["webhook"]
    received = receiver.wait_for("crm", 4)

    assert failing["state"] == "FAILING" and failing["lastError"] == "HTTP 500: receiver down for maintenance"
    log = [e["node"] for e in failing["deliveries"]["edges"]]
    assert [a["attempt"] for a in log][-2:] == [2, 1] and {a["statusCode"] for a in log} == {500}
    assert all(a["latencyMs"] >= 0 and not a["delivered"] for a in log)
    assert paused == {"state": "PAUSED", "pausedReason": "paused by admin@stockton.gov.uk: receiver moving"}
    assert resumed == {"state": "ACTIVE", "pausedReason": None}
    positions = [r.body["data"]["position"] for r in received if r.body]
    assert positions == sorted(positions) and len(set(positions)) == 4


def test_a_rotated_secret_signs_beside_the_old_one_and_a_replay_sends_again_under_new_ids(
    admin: GraphQLClient, receiver: Receiver
) -> None:
    measure_id = criminal_damage(admin, a_plan(admin, PARTNERSHIP))["id"]
    made = a_webhook(admin, receiver, "crm")
    hook = made["webhook"]["id"]
    flip(admin, measure_id, 2)
    first = receiver.wait_for("crm", 2)

    rotated = admin.execute(ROTATE, {"id": hook})["rotateWebhookSecret"]
    receiver.trust("crm", rotated["secret"])  # the receiver has moved to the new secret
    replayed = admin.execute(REPLAY, {"id": hook, "after": made["webhook"]["cursor"]})["replayWebhook"]["webhook"]
    again = receiver.wait_for("crm", 4)[2:]

    assert rotated["secret"] != made["secret"]
    assert replayed["cursor"] == made["webhook"]["cursor"]
    assert [r.body for r in again] == [r.body for r in first]
    assert [r.id for r in again] == [r.id + "_r1" for r in first]
    assert all(len(r.headers["webhook-signature"].split(" ")) == 2 for r in again)
    assert all(r.verified for r in receiver.received("crm"))


def test_webhooks_are_their_partnerships_admins_alone(
    admin: GraphQLClient, receiver: Receiver, server: LiveServer, database_url: str
) -> None:
    ours = a_plan(admin, PARTNERSHIP)
    hook = a_webhook(admin, receiver, "crm", planId=ours)["webhook"]["id"]
    police = GraphQLClient(server.url, create_token(database_url, "admin@police.example", partnership="Cleveland"))
    viewer = GraphQLClient(
        server.url, create_token(database_url, "viewer@stockton.gov.uk", partnership=PARTNERSHIP, roles=["viewer"])
    )

    assert police.execute(LIST) == {"webhooks": []}
    assert police.execute(WEBHOOK, {"id": hook}) == {"webhook": None}
    for document in (PAUSE, RESUME, ROTATE, DELETE):
        (refused,) = police.errors(document, {"id": hook})
        assert refused["extensions"]["code"] == "NOT_FOUND", refused
    (forbidden,) = viewer.errors(LIST)
    assert forbidden["extensions"] == {"code": "FORBIDDEN", "requiredRole": "admin"}
    (theirs,) = police.errors(CREATE, {"input": {"url": receiver.url("x"), "kinds": ["LEDGER_EVENT"], "planId": ours}})
    assert theirs["extensions"]["code"] == "FORBIDDEN"
    assert admin.execute(DELETE, {"id": hook}) == {"deleteWebhook": {"id": hook}}
    assert admin.execute(LIST) == {"webhooks": []}


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://hooks.example.org/in", "must use https"),
        ("https://10.0.0.8/in", "private, loopback or link-local address"),
        ("https://localhost/in", "names this machine"),
        ("not a url", "absolute https:// URL"),
    ],
)
def test_a_webhook_to_a_url_it_may_not_call_is_refused_naming_the_url(
    admin: GraphQLClient, url: str, message: str
) -> None:
    (refused,) = admin.errors(CREATE, {"input": {"url": url, "kinds": ["STATUS_CHANGED"]}})

    assert refused["extensions"] == {"code": "VALIDATION", "field": "url"}
    assert message in refused["message"]
    assert admin.execute(LIST) == {"webhooks": []}


def _until(read: Any, done: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while not done(found := read()):
        assert time.monotonic() < deadline, found
        time.sleep(0.05)
    return found
