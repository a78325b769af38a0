"""Reads from a streaming standby (ML_READ_DATABASE_URLS) never show less than a position the client passes.

A real primary and hot standby (tests/replication/cluster.py) and the service on a real port, pointed at both.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from service.app import create_app
from service.auth.tokens import create_token
from service.settings import Settings
from tests.e2e import documents as doc
from tests.e2e.live import GraphQLClient, LiveServer
from tests.replication.cluster import Cluster

pytestmark = [pytest.mark.replication, pytest.mark.slow]

STOCKTON = "Safer Stockton Partnership"
OWNER = "police.analyst@cleveland-police.example"

PLAN_MADE = "query($id: ID!) { plan(id: $id) { id title partnership version themes { code } } }"
PLAN_THEMES = "query($id: ID!) { plan(id: $id) { id version themes { code title } } }"
OPENED = "query($id: ID!) { plan(id: $id) { id collections { quarter dueOn openedBy } } }"
MOVED = "query($id: ID!) { plan(id: $id) { id collections { quarter dueOn dueDateChangeReason } } }"
PUBLISHED = "query($id: ID!) { plan(id: $id) { publications { id } } }"
CYCLE = "query($id: ID!) { measure(id: $id) { id number " + doc.return_fields + " } }"


@dataclass
class Service:
    """The service on a primary and its standby, and clients of it by role."""

    live: LiveServer
    primary_url: str
    as_: dict[str, GraphQLClient]

    def health(self) -> dict[str, Any]:
        body: dict[str, Any] = httpx.get(self.live.url + "/health", timeout=30).json()
        return body

    def standby(self) -> dict[str, Any]:
        (replica,) = self.health()["replicas"]
        return replica

    def write(self, who: str, mutation: str, variables: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """A mutation that must succeed: its position and its payload."""
        (payload,) = self.as_[who].execute(mutation, {"input": variables}).values()
        return int(payload["position"]), payload

    def read(self, query: str, object_id: str, position: int | None, who: str = "operator") -> dict[str, Any]:
        """A query's root object, read with the position (as X-Min-Position) a client was given."""
        headers = {} if position is None else {"x-min-position": str(position)}
        response = self.as_[who].post(query, {"id": object_id}, **headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body["errors"]
        (found,) = body["data"].values()
        assert isinstance(found, dict)
        return found

    def wait(self, condition: Callable[[dict[str, Any]], bool], what: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not condition(self.standby()):
            assert time.monotonic() < deadline, f"{what}: {self.standby()}"
            time.sleep(0.05)


@contextmanager
def serving(databases: tuple[str, str], **settings: Any) -> Iterator[Service]:
    primary, standby = databases
    configured = Settings(
        database_url=primary,
        read_database_urls=(standby,),
        load_demo=False,
        read_check_seconds=0.2,
        mutation_rate=1000,
        mutation_burst=1000,
        **settings,
    )
    live = LiveServer(create_app(configured)).start()
    operator = GraphQLClient(live.url, create_token(primary, "operator@ledger.example"))

    def token(name: str, *roles: str) -> GraphQLClient:
        return operator.as_(create_token(primary, name, partnership=STOCKTON, roles=list(roles)))

    clients = {
        "operator": operator,
        "editor": token("editor@safer-stockton.example", "editor"),
        OWNER: token(OWNER, "submitter"),
        "lead": token("performance.lead@safer-stockton.example", "approver", "auditor"),
    }
    service = Service(live, primary, clients)
    try:
        service.wait(lambda r: r["inRotation"], "the standby never came into rotation")
        yield service
    finally:
        live.stop()


@pytest.fixture
def service(databases: tuple[str, str]) -> Iterator[Service]:
    with serving(databases) as started:
        yield started


@pytest.fixture
def late_standby(cluster: Cluster) -> Iterator[None]:
    """The standby applies each commit 150 ms after the primary made it, as a loaded one might."""
    cluster.standby.configure("recovery_min_apply_delay = '150ms'\n")
    yield
    cluster.standby.configure("recovery_min_apply_delay = 0\n")


def a_plan(s: Service) -> tuple[str, str]:
    """A plan with theme 5 and measure 5.1 (criminal damage, baseline 2,472): (plan id, measure id)."""
    _, made = s.write(
        "operator",
        doc.CREATE_PLAN,
        {
            "partnership": STOCKTON,
            "title": f"Community Safety Plan {uuid.uuid4().hex[:6]}",
            "year": "2012-13",
            "periodStart": "2012-04-01",
            "periodEnd": "2013-03-31",
        },
    )
    plan_id = made["plan"]["id"]
    s.write("operator", doc.ADD_THEME, {"planId": plan_id, "code": "5", "title": "Criminal damage"})
    _, defined = s.write("operator", doc.DEFINE_MEASURE, MEASURE_5_1 | {"planId": plan_id})
    measure_id = defined["measure"]["id"]
    s.write("operator", doc.SET_BASELINE, {"measureId": measure_id, "component": "total", "value": "2472"})
    return plan_id, measure_id


def a_figure(s: Service) -> tuple[str, str, dict[str, str]]:
    """The plan of `a_plan`, with 5.1's Q1 submitted as 400: (plan id, measure id, the figure's slot)."""
    plan_id, measure_id = a_plan(s)
    q1 = {"measureId": measure_id, "component": "total", "quarter": "Q1"}
    s.write("operator", doc.SUBMIT_FIGURE, q1 | {"value": "400"})
    return plan_id, measure_id, q1


def revise(s: Service, q1: dict[str, str], value: str) -> int:
    """Q1 revised to `value`: the position of the revision."""
    position, _ = s.write("operator", doc.REVISE_FIGURE, q1 | {"value": value, "reason": f"revised to {value}"})
    return position


MEASURE_5_1 = {
    "themeCode": "5",
    "number": "5.1",
    "title": "Reduce Criminal Damage",
    "direction": "REDUCE",
    "basis": "YTD_PRO_RATA",
    "unit": "crimes",
    "components": [{"key": "total", "label": "Criminal damage offences"}],
}


def test_every_mutation_is_read_back_at_its_position_from_the_standby(service: Service) -> None:
    s = service
    reads_before = s.standby()["reads"]
    _, made = s.write(
        "operator",
        doc.CREATE_PLAN,
        {
            "partnership": STOCKTON,
            "title": "Community Safety Plan 2012-13",
            "year": "2012-13",
            "periodStart": "2012-04-01",
            "periodEnd": "2013-03-31",
        },
    )
    plan_id = made["plan"]["id"]
    position = s.standby()["position"]  # nothing older than the plan is read below
    assert s.read(PLAN_MADE, plan_id, position) == made["plan"]

    def step(who: str, mutation: str, variables: dict[str, Any], query: str, key: str) -> dict[str, Any]:
        """The mutation, then the read of what it returned, at its position: the same as its payload."""
        position, payload = s.write(who, mutation, variables)
        object_id = payload[key]["id"] if "id" in payload[key] else plan_id
        assert s.read(query, object_id, position, who) == payload[key], mutation
        return payload

    step("operator", doc.ADD_THEME, {"planId": plan_id, "code": "5", "title": "Criminal damage"}, PLAN_THEMES, "plan")
    measure_id = step("operator", doc.DEFINE_MEASURE, MEASURE_5_1 | {"planId": plan_id}, doc.MEASURE, "measure")[
        "measure"
    ]["id"]
    m = {"measureId": measure_id}
    q1, q2 = m | {"quarter": "Q1"}, m | {"quarter": "Q2"}
    redefined = {k: v for k, v in MEASURE_5_1.items() if k not in ("themeCode", "number")}
    measure_steps: list[tuple[str, str, dict[str, Any]]] = [
        ("operator", doc.REDEFINE_MEASURE, m | redefined | {"title": "Reduce criminal damage", "reason": "wording"}),
        ("operator", doc.SET_BASELINE, m | {"component": "total", "value": "2472", "period": "2011/12"}),
        ("operator", doc.RESET_BASELINE, m | {"component": "total", "value": "2480", "reason": "late crimes"}),
        ("operator", doc.SUBMIT_FIGURE, q1 | {"component": "total", "value": "492"}),
        ("operator", doc.REVISE_FIGURE, q1 | {"component": "total", "value": "495", "reason": "late recording"}),
        ("operator", doc.MARK_UNAVAILABLE, q2 | {"component": "total", "reason": "system outage"}),
        ("operator", doc.UPDATE_COMMENTARY, q1 | {"text": "Down on last year"}),
        ("operator", doc.OVERRIDE_STATUS, q1 | {"status": "AT_RISK", "reason": "a known surge"}),
        ("operator", doc.CLEAR_OVERRIDE, q1 | {"reason": "surge passed"}),
    ]
    for who, mutation, variables in measure_steps:
        step(who, mutation, variables, doc.MEASURE, "measure")
    owned = m | {"principal": OWNER, "agency": "Cleveland Police"}
    step("editor", doc.ASSIGN_OWNER, owned, CYCLE, "measure")
    step("lead", doc.OPEN_COLLECTION, {"planId": plan_id, "quarter": "Q1", "dueOn": "2012-07-31"}, OPENED, "plan")
    due = {"planId": plan_id, "quarter": "Q1", "dueOn": "2012-08-07", "reason": "board moved"}
    step("lead", doc.CHANGE_DUE_DATE, due, MOVED, "plan")
    step(OWNER, doc.SUBMIT_RETURN, q1, CYCLE, "measure")
    step("lead", doc.SEND_BACK_RETURN, q1 | {"reason": "check the count"}, CYCLE, "measure")
    step(OWNER, doc.SUBMIT_RETURN, q1, CYCLE, "measure")
    step("lead", doc.APPROVE_RETURN, q1, CYCLE, "measure")
    board = {"planId": plan_id, "quarter": "Q1", "title": "Board, 25 September 2012", "presentedOn": "2012-09-25"}
    step("lead", doc.PUBLISH_QUARTER, board, PUBLISHED, "plan")
    step("lead", doc.REOPEN_RETURN, q1 | {"reason": "a correction"}, CYCLE, "measure")
    standby = s.standby()
    assert standby["inRotation"] and standby["reads"] > reads_before, standby


def test_a_hundred_and_fifty_writes_are_each_read_back_at_once_from_the_standby(service: Service) -> None:
    s = service
    _, measure_id, q1 = a_figure(s)
    reads_before = s.standby()["reads"]
    for n in range(1, 151):
        value = str(400 + n)
        assert figure_q1(s.read(doc.MEASURE, measure_id, revise(s, q1, value))) == value, n
    assert s.standby()["reads"] >= reads_before + 120, s.health()


def test_a_late_standby_never_shows_a_read_older_than_its_position(service: Service, late_standby: None) -> None:
    """Writes each read back at once: the standby, 150 ms behind, is waited for (or the primary read), never
    shown before it has the write; the same read without the position shows the older figure."""
    s = service
    _, measure_id, q1 = a_figure(s)
    stale = 0
    for n in range(1, 61):
        value = str(400 + n)
        position = revise(s, q1, value)
        if n % 3 == 0:
            unpositioned = s.read(doc.MEASURE, measure_id, None)
            stale += figure_q1(unpositioned) != value
        assert figure_q1(s.read(doc.MEASURE, measure_id, position)) == value, n
    standby = s.standby()
    assert standby["reads"] > 30, standby
    # Without its position, a read may be served before the standby has the write: that is what the header is for.
    assert stale > 0


def figure_q1(measure: dict[str, Any]) -> str:
    (component,) = measure["components"]
    value: str = next(f for f in component["figures"] if f["quarter"] == "Q1")["value"]
    return value


def test_the_response_cache_never_answers_with_a_result_older_than_the_position(
    service: Service, late_standby: None
) -> None:
    s = service
    plan_id, _, q1 = a_figure(s)
    for n in range(1, 26):
        value = str(400 + n)
        # The dashboard is read (and cached) before the write, on the standby and the primary alike.
        s.read(doc.DASHBOARD, plan_id, None)
        position = revise(s, q1, value)
        for _ in range(2):
            plan = s.read(doc.DASHBOARD, plan_id, position)
            (measure,) = plan["measures"]
            assert figure_q1(measure) == value, n
    cache = s.health()["responseCache"]
    assert cache["hits"] > 0, cache


def test_reads_carry_on_from_the_primary_while_the_standby_is_stopped_and_return_to_it(
    cluster: Cluster, service: Service
) -> None:
    s = service
    _, measure_id, q1 = a_figure(s)
    cluster.standby.stop()
    try:
        for n in range(1, 31):
            value = str(400 + n)
            position = revise(s, q1, value)
            assert figure_q1(s.read(doc.MEASURE, measure_id, position)) == value
            assert figure_q1(s.read(doc.MEASURE, measure_id, None)) == value
        standby = s.standby()
        assert not standby["inRotation"] and standby["error"], standby
        reads_while_down = standby["reads"]
    finally:
        cluster.standby.start()
    s.wait(lambda r: r["inRotation"], "the standby did not come back into rotation")
    position = revise(s, q1, "999")
    for _ in range(10):
        assert figure_q1(s.read(doc.MEASURE, measure_id, position)) == "999"
    assert s.standby()["reads"] >= reads_while_down + 10


def test_a_standby_lagging_past_the_limit_leaves_rotation_and_returns_when_it_catches_up(
    cluster: Cluster, databases: tuple[str, str]
) -> None:
    with serving(databases, read_max_lag_seconds=0.5) as s:
        _, measure_id, q1 = a_figure(s)
        cluster.standby.configure("recovery_min_apply_delay = '3s'\n")
        try:
            revise(s, q1, "401")
            s.wait(lambda r: not r["inRotation"], "the lagging standby stayed in rotation", timeout=10)
            lagging = s.standby()
            assert lagging["lagSeconds"] > 0.5 and lagging["behind"] > 0 and lagging["error"] is None, lagging
            # Out of rotation, it serves nothing: reads with or without a position are the primary's, and current.
            for n in range(402, 412):
                position = revise(s, q1, str(n))
                assert figure_q1(s.read(doc.MEASURE, measure_id, position)) == str(n)
                assert figure_q1(s.read(doc.MEASURE, measure_id, None)) == str(n)
            assert s.standby()["reads"] == lagging["reads"]
        finally:
            cluster.standby.configure("recovery_min_apply_delay = 0\n")
        s.wait(lambda r: r["inRotation"] and r["behind"] == 0, "the standby did not return after catching up")
        assert figure_q1(s.read(doc.MEASURE, measure_id, position)) == "411"
        assert s.standby()["reads"] > lagging["reads"]


def test_exports_and_reports_are_read_from_the_standby_at_the_position(service: Service) -> None:
    s = service
    plan_id, _, q1 = a_figure(s)
    lead = s.as_["lead"]
    headers = {"authorization": f"Bearer {lead.token}"}
    for n in range(1, 6):
        value = str(4000 + n)
        position = revise(s, q1, value)
        before = s.standby()["reads"]
        at = {**headers, "x-min-position": str(position)}
        plan = httpx.get(f"{s.live.url}/plans/{plan_id}/export?format=csv", headers=at, timeout=30)
        assert plan.status_code == 200, plan.text
        assert f"5,5.1,total,Q1,{value}," in plan.text
        trail = httpx.get(f"{s.live.url}/audit/export?format=jsonl&planId={plan_id}", headers=at, timeout=30)
        assert trail.status_code == 200, trail.text
        assert f'"{value}"' in trail.text
        report = httpx.get(f"{s.live.url}/reports/{plan_id}?format=csv", headers=at, timeout=30)
        assert report.status_code == 200, report.text
        assert f',"{int(value):,}",' in report.text, report.text  # the report prints 4,001
        assert s.standby()["reads"] == before + 3
    for route in (f"/plans/{plan_id}/export", "/audit/export", f"/reports/{plan_id}"):
        refused = httpx.get(s.live.url + route, headers={**headers, "x-min-position": "-1"}, timeout=30)
        assert refused.status_code == 400, route
        assert refused.json()["errors"][0]["extensions"] == {"code": "VALIDATION", "field": "X-Min-Position"}


def test_a_position_that_is_not_a_number_is_refused_with_its_field(service: Service) -> None:
    response = service.as_["operator"].post("{ plans { id } }", **{"x-min-position": "soon"})
    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error["extensions"] == {"code": "VALIDATION", "field": "X-Min-Position"}


def test_metrics_show_the_standby_in_rotation_its_reads_and_its_pool(service: Service) -> None:
    from tests.e2e.test_metrics import scrape, value

    plan_id, _ = a_plan(service)
    name = service.standby()["name"]
    token = service.as_["operator"].token
    assert token is not None
    before = value(scrape(service.live.url, token), "ml_replica_reads_total", replica=name)
    for _ in range(3):
        service.read(PLAN_MADE, plan_id, None)
    samples = scrape(service.live.url, token)
    assert value(samples, "ml_replica_in_rotation", replica=name) == 1
    assert value(samples, "ml_replica_reads_total", replica=name) - before >= 1
    assert value(samples, "ml_replica_lag_seconds", replica=name) >= 0
    assert value(samples, "ml_db_pool_max_connections", pool=name) == 10
    assert value(samples, "ml_db_pool_connections", pool=name) >= 1
