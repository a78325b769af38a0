"""Refused credentials are UNAUTHENTICATED with the reason; valid JWTs work; every event names who caused it.

The server here also accepts HS256 JWTs from ISSUER for AUDIENCE (the ML_OIDC_* and
ML_JWT_HS256_SECRET variables, read when the app starts).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import timedelta

import httpx
import jwt
import pytest
from websockets.exceptions import ConnectionClosed

from service.auth.tokens import create_token, principal_of, revoke_token
from service.settings import Settings
from tests.conftest import DatabaseFactory
from tests.e2e import documents as doc
from tests.e2e.given import criminal_damage
from tests.e2e.principals import (
    AUDIENCE,
    FROM_THE_START,
    ISSUER,
    JWT_ENV,
    STATUS_CHANGED,
    World,
    downloaded,
    posted,
    signed_jwt,
    subscribed,
    two_partnerships,
)
from tests.e2e.ws_client import graphql_ws


@pytest.fixture(scope="module")
def world(new_database: DatabaseFactory) -> Iterator[World]:
    database_url = new_database()
    with ExitStack() as stack:
        settings = Settings.from_env({"DATABASE_URL": database_url, "ML_LOAD_DEMO": "0", **JWT_ENV})
        yield stack.enter_context(two_partnerships(database_url, settings))


def a_person(world: World, subject: str, *roles: str, **claims: object) -> str:
    return signed_jwt(subject, partnership=world.a.name, roles=list(roles), **claims)


def revoked(world: World) -> str:
    token = create_token(world.database_url, "leaver@a.example", partnership=world.a.name, roles=["viewer"])
    assert revoke_token(world.database_url, token)
    return token


def expired(world: World) -> str:
    token = create_token(
        world.database_url,
        "temp@a.example",
        partnership=world.a.name,
        roles=["viewer"],
        expires_in=timedelta(milliseconds=200),
    )
    deadline = time.monotonic() + 5
    while principal_of(world.database_url, token) is not None:
        assert time.monotonic() < deadline, "the token did not expire"
        time.sleep(0.05)
    return token


def unsigned(world: World) -> str:
    header = {"alg": "none", "typ": "JWT"}
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "mallory", "exp": int(time.time()) + 300}
    return jwt.encode(claims, key=None, algorithm="none", headers=header)


REFUSED: dict[str, tuple[Callable[[World], str], str]] = {
    "revoked token": (revoked, "has been revoked"),
    "expired token": (expired, "has expired"),
    "unknown token": (lambda w: "mlt_deadbeef_" + "x" * 43, "unknown API token"),
    "not a credential": (lambda w: "let-me-in", "neither an API token"),
    "JWT signed with another key": (
        lambda w: a_person(w, "mallory", "admin", secret="another-secret-that-is-also-32-bytes-long"),
        "signature is wrong",
    ),
    "JWT for another audience": (lambda w: a_person(w, "alice", "viewer", aud="another-service"), "another audience"),
    "JWT from another issuer": (
        lambda w: a_person(w, "alice", "viewer", iss="https://evil.example"),
        "untrusted issuer",
    ),
    "expired JWT": (lambda w: a_person(w, "alice", "viewer", expires_in=timedelta(minutes=-5)), "has expired"),
    "unsigned JWT": (unsigned, "algorithm 'none' is not accepted"),
    "JWT without a partnership": (lambda w: signed_jwt("alice", roles=["admin"]), "no 'partnership' claim"),
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_refused_credentials_are_unauthenticated_with_the_reason(world: World, name: str) -> None:
    make, reason = REFUSED[name]
    credential = make(world)

    response = world.as_(credential).post("{ plans { id } }")
    download = downloaded(world.url, f"/plans/{world.a.plan_id}/export", credential)

    assert response.status_code == 401
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "UNAUTHENTICATED"}
    assert reason in error["message"] and "not authenticated" in error["message"]
    assert len(response.headers["x-request-id"]) == 16
    assert download.status == 401 and download.codes == ["UNAUTHENTICATED"]
    assert reason in download.errors[0]["message"]


@pytest.mark.parametrize("name", ["revoked token", "expired JWT", "JWT signed with another key"])
async def test_a_subscription_with_refused_credentials_is_closed_with_4403(world: World, name: str) -> None:
    credential = await asyncio.to_thread(REFUSED[name][0], world)

    with pytest.raises(ConnectionClosed) as closed:
        async with graphql_ws(world.ws_url, {"Authorization": f"Bearer {credential}"}):
            pass

    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403


def test_a_token_refused_mid_session_takes_effect_on_the_next_request(world: World) -> None:
    token = create_token(world.database_url, "contractor@a.example", partnership=world.a.name, roles=["viewer"])
    client = world.as_(token)
    assert client.execute("{ plans { id } }")["plans"] == [{"id": world.a.plan_id}]

    revoke_token(world.database_url, token)

    assert client.post("{ plans { id } }").status_code == 401


def test_a_valid_jwt_acts_with_its_partnership_and_roles(world: World) -> None:
    submitter = world.as_(a_person(world, "officer@stockton.gov.uk", "submitter", "offline_access"))
    viewer = world.as_(signed_jwt("reader@stockton.gov.uk", partnership=world.a.name, roles="viewer uma_authorization"))
    measure_id = criminal_damage(world.operator, world.a.plan_id, number="5.jwt")["id"]
    figure = {"measureId": measure_id, "component": "total", "quarter": "Q1", "value": "492"}

    submitted = submitter.execute(doc.SUBMIT_FIGURE, {"input": figure})["submitFigure"]["measure"]
    plans = viewer.execute("{ plans { id } }")["plans"]
    viewer_writes = posted(viewer, doc.SUBMIT_FIGURE, {"input": {**figure, "quarter": "Q2"}})
    other_partnership = posted(submitter, doc.SUBMIT_FIGURE, {"input": {**figure, "measureId": world.b.measure_id}})

    assert submitted["components"][0]["figures"][0]["recordedBy"] == "officer@stockton.gov.uk"
    assert plans == [{"id": world.a.plan_id}]
    assert viewer_writes.codes == ["FORBIDDEN"] and "needs the submitter role" in viewer_writes.errors[0]["message"]
    assert other_partnership.codes == ["FORBIDDEN"] and world.b.name in other_partnership.errors[0]["message"]


def test_a_jwt_subscribes_and_downloads_like_a_token(world: World) -> None:
    auditor = a_person(world, "auditor@stockton.gov.uk", "auditor")
    variables = {"planId": world.a.plan_id, "after": FROM_THE_START["statusChanged"]}

    change = subscribed(world.ws_url, auditor, STATUS_CHANGED, variables)
    export = downloaded(world.url, f"/plans/{world.a.plan_id}/export", auditor)

    assert change.ok and change.data["statusChanged"]["planId"] == world.a.plan_id
    assert export.ok and world.a.name in export.body["text"]


def test_every_recorded_event_names_the_principal_that_caused_it(world: World) -> None:
    editor_jwt = a_person(world, "head.of.service@stockton.gov.uk", "editor")
    submitter_jwt = a_person(world, "officer@stockton.gov.uk", "submitter")
    measure_id = criminal_damage(world.operator, world.a.plan_id, number="5.actors")["id"]
    q1 = {"measureId": measure_id, "component": "total", "quarter": "Q1"}
    world.as_(world.a.tokens["submitter"]).execute(doc.SUBMIT_FIGURE, {"input": {**q1, "value": "492"}})
    world.as_(submitter_jwt).execute(doc.REVISE_FIGURE, {"input": {**q1, "value": "495", "reason": "late recording"}})
    override = {"measureId": measure_id, "quarter": "Q1", "status": "AT_RISK", "reason": "trend"}
    world.as_(editor_jwt).execute(doc.OVERRIDE_STATUS, {"input": override})
    expected = [
        ("MeasureDefined", "operator@ledger.example"),
        ("BaselineSet", "operator@ledger.example"),
        ("FigureSubmitted", world.a.principal("submitter")),
        ("FigureRevised", "officer@stockton.gov.uk"),
        ("StatusOverridden", "head.of.service@stockton.gov.uk"),
    ]
    auditor = world.as_(world.a.tokens["auditor"])

    history = auditor.execute("query($id: ID!) { measure(id: $id) { history { action actor } } }", {"id": measure_id})
    trail = auditor.execute(
        "query($id: ID) { auditTrail(filter: {measureId: $id}) { nodes { action actor } } }", {"id": measure_id}
    )

    assert [(e["action"], e["actor"]) for e in history["measure"]["history"]] == expected
    assert [(e["action"], e["actor"]) for e in trail["auditTrail"]["nodes"]] == expected


def test_the_bearer_scheme_is_case_insensitive_and_other_schemes_are_anonymous(world: World) -> None:
    token = world.a.tokens["viewer"]

    lower = httpx.post(
        world.url + "/graphql", json={"query": "{ plans { id } }"}, headers={"authorization": f"bearer {token}"}
    )
    basic = httpx.post(
        world.url + "/graphql", json={"query": "{ plans { id } }"}, headers={"authorization": f"Basic {token}"}
    )

    assert lower.json() == {"data": {"plans": [{"id": world.a.plan_id}]}}
    assert basic.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
