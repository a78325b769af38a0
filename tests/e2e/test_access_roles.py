"""Each role may do what its table row says and nothing more; every refusal is FORBIDDEN naming the role needed.

Roles: viewer reads the present; auditor adds history, time travel, the audit
trail and exports; submitter adds figures and commentary; editor adds plans,
themes, measures, baselines and status overrides; admin may do everything.
Every call here is made by a token of partnership A on A's own objects, so a
refusal is about the role alone (partnership isolation is test_partnership_isolation.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.conftest import DatabaseFactory
from tests.e2e import documents as doc
from tests.e2e.given import criminal_damage
from tests.e2e.principals import (
    FROM_THE_START,
    LEDGER_EVENTS,
    ROLES,
    STATUS_CHANGED,
    Outcome,
    World,
    downloaded,
    posted,
    subscribed,
    two_partnerships,
    unique,
)


@pytest.fixture(scope="module")
def world(new_database: DatabaseFactory) -> Iterator[World]:
    with two_partnerships(new_database()) as made:
        yield made


def now() -> str:
    return datetime.now(UTC).isoformat()


# ----- the operations: each is called as `call(world, token, target)`; `target` is A's measure 5.1 unless
# the operation has a `fresh` set-up, made by the operator for a caller that is expected to succeed.

Call = Callable[[World, str, str], Outcome]


@dataclass(frozen=True)
class Operation:
    name: str
    needs: str  # the least role that may call it
    call: Call
    fresh: Callable[[World], str] | None = None
    writes: bool = False

    def allowed(self, role: str) -> bool:
        return role in (self.needs, "admin") or self.needs == "viewer"


def query(document: str, **variables: Any) -> Call:
    def call(world: World, token: str, target: str) -> Outcome:
        values = {k: (v(world, target) if callable(v) else v) for k, v in variables.items()}
        return posted(world.as_(token), document, values)

    return call


def mutation(document: str, **fields: Any) -> Call:
    """A mutation of A's measure (or, with `plan=True`, A's plan) with `fields` as its input."""

    def call(world: World, token: str, target: str) -> Outcome:
        values = {k: (v() if callable(v) else v) for k, v in fields.items()}
        return posted(world.as_(token), document, {"input": {**values, "measureId": target}})

    return call


def plan_mutation(document: str, **fields: Any) -> Call:
    def call(world: World, token: str, target: str) -> Outcome:
        values = {k: (v() if callable(v) else v) for k, v in fields.items()}
        return posted(world.as_(token), document, {"input": {**values, "planId": world.a.plan_id}})

    return call


def download(path: Callable[[World], str]) -> Call:
    def call(world: World, token: str, target: str) -> Outcome:
        return downloaded(world.url, path(world), token)

    return call


def subscription(document: str, field: str) -> Call:
    def call(world: World, token: str, target: str) -> Outcome:
        variables = {"planId": world.a.plan_id, "after": FROM_THE_START[field]}
        return subscribed(world.ws_url, token, document, variables)

    return call


def create_plan(world: World, token: str, target: str) -> Outcome:
    plan = {
        "partnership": world.a.name,
        "title": unique("Community Safety Plan "),
        "year": "2013-14",
        "periodStart": "2013-04-01",
        "periodEnd": "2014-03-31",
    }
    return posted(world.as_(token), doc.CREATE_PLAN, {"input": plan})


def measure_without_baseline(world: World) -> str:
    data = world.operator.execute(
        doc.DEFINE_MEASURE,
        {
            "input": {
                "planId": world.a.plan_id,
                "themeCode": "5",
                "number": unique("5."),
                "title": "Reduce Criminal Damage",
                "direction": "REDUCE",
                "basis": "YTD_PRO_RATA",
                "components": [{"key": "total", "label": "Criminal damage offences"}],
            }
        },
    )
    measure_id: str = data["defineMeasure"]["measure"]["id"]
    return measure_id


def fresh_measure(world: World) -> str:
    measure_id: str = criminal_damage(world.operator, world.a.plan_id, number=unique("5."))["id"]
    return measure_id


def overridden_q2(world: World) -> str:
    override = {"measureId": world.a.measure_id, "quarter": "Q2", "status": "AT_RISK", "reason": "known gap"}
    world.operator.execute(doc.OVERRIDE_STATUS, {"input": override})
    return world.a.measure_id


def a_id(world: World, target: str) -> str:
    return world.a.measure_id


def a_plan_id(world: World, target: str) -> str:
    return world.a.plan_id


def as_of(world: World, target: str) -> str:
    return now()


PLAN = "query($id: ID!) { plan(id: $id) { id title } }"
PLAN_AS_OF = "query($id: ID!, $at: DateTime) { plan(id: $id, asOf: $at) { id title } }"
MEASURE = "query($id: ID!) { measure(id: $id) { id status quarters { quarter status } } }"
MEASURE_AS_OF = "query($id: ID!, $at: DateTime) { measure(id: $id, asOf: $at) { id status } }"
HISTORY = "query($id: ID!) { measure(id: $id) { id history { actor } } }"
DEFINITION = {
    "title": "Reduce Criminal Damage",
    "direction": "REDUCE",
    "basis": "YTD_PRO_RATA",
    "components": [{"key": "total", "label": "Criminal damage offences"}],
    "reason": "wording agreed at the board",
}

OPERATIONS = [
    # read current
    Operation("plans", "viewer", query("{ plans { id partnership } }")),
    Operation("plan", "viewer", query(PLAN, id=a_plan_id)),
    Operation("measure", "viewer", query(MEASURE, id=a_id)),
    Operation("statusChanged", "viewer", subscription(STATUS_CHANGED, "statusChanged")),
    # read audit
    Operation("history", "auditor", query(HISTORY, id=a_id)),
    Operation("plan asOf", "auditor", query(PLAN_AS_OF, id=a_plan_id, at=as_of)),
    Operation("measure asOf", "auditor", query(MEASURE_AS_OF, id=a_id, at=as_of)),
    Operation("auditTrail", "auditor", query("{ auditTrail(first: 5) { nodes { actor action } } }")),
    Operation("auditDigest", "auditor", query("{ auditDigest { position hash } }")),
    Operation("plan export", "auditor", download(lambda w: f"/plans/{w.a.plan_id}/export")),
    Operation("audit export", "auditor", download(lambda w: "/audit/export")),
    Operation("ledgerEvents", "auditor", subscription(LEDGER_EVENTS, "ledgerEvents")),
    # submit
    Operation(
        "submitFigure",
        "submitter",
        mutation(doc.SUBMIT_FIGURE, component="total", quarter="Q1", value="500"),
        fresh=fresh_measure,
        writes=True,
    ),
    Operation(
        "reviseFigure",
        "submitter",
        mutation(doc.REVISE_FIGURE, component="total", quarter="Q1", value="493", reason="late recording"),
        writes=True,
    ),
    Operation(
        "markFigureUnavailable",
        "submitter",
        mutation(doc.MARK_UNAVAILABLE, component="total", quarter="Q4", reason="system outage"),
        writes=True,
    ),
    Operation(
        "updateCommentary",
        "submitter",
        mutation(doc.UPDATE_COMMENTARY, quarter="Q2", text="Improving."),
        writes=True,
    ),
    # edit
    Operation("createPlan", "editor", create_plan, writes=True),
    Operation(
        "addTheme", "editor", plan_mutation(doc.ADD_THEME, code=lambda: unique("T"), title="Reoffending"), writes=True
    ),
    Operation(
        "defineMeasure",
        "editor",
        plan_mutation(
            doc.DEFINE_MEASURE, themeCode="5", number=lambda: unique("5."), **{**DEFINITION, "reason": None}
        ),
        writes=True,
    ),
    Operation(
        "setBaseline",
        "editor",
        mutation(doc.SET_BASELINE, component="total", value="2472"),
        fresh=measure_without_baseline,
        writes=True,
    ),
    Operation(
        "resetBaseline",
        "editor",
        mutation(doc.RESET_BASELINE, component="total", value="2500", reason="recount"),
        writes=True,
    ),
    Operation(
        "overrideStatus",
        "editor",
        mutation(doc.OVERRIDE_STATUS, quarter="Q3", status="AT_RISK", reason="partial data"),
        writes=True,
    ),
    Operation(
        "clearStatusOverride",
        "editor",
        mutation(doc.CLEAR_OVERRIDE, quarter="Q2", reason="data now complete"),
        fresh=overridden_q2,
        writes=True,
    ),
    Operation("redefineMeasure", "editor", mutation(doc.REDEFINE_MEASURE, **DEFINITION), writes=True),
]

CASES = [(op, role) for op in OPERATIONS for role in ROLES]


def test_the_table_covers_every_class_of_operation_and_every_mutation() -> None:
    from service.schema import build_schema

    mutations = set(build_schema().as_str().split("type Mutation {")[1].split("}")[0].split())
    named = {op.name for op in OPERATIONS}
    assert {m.split("(")[0] for m in mutations if "(" in m} <= named
    assert {op.needs for op in OPERATIONS} == {"viewer", "auditor", "submitter", "editor"}


@pytest.mark.parametrize(("operation", "role"), CASES, ids=[f"{op.name} as {role}" for op, role in CASES])
def test_a_role_may_call_what_its_role_allows_and_is_refused_the_rest(
    world: World, operation: Operation, role: str
) -> None:
    allowed = operation.allowed(role)
    target = operation.fresh(world) if allowed and operation.fresh else world.a.measure_id
    before = world.event_count()

    outcome = operation.call(world, world.a.tokens[role], target)

    if allowed:
        assert outcome.ok, outcome.body
        assert outcome.body.get("data") or outcome.body.get("text")
        assert world.event_count() == before + (1 if operation.writes else 0)
    else:
        assert outcome.codes == ["FORBIDDEN"], outcome.body
        assert outcome.status == (403 if "export" in operation.name else 200)
        [error] = outcome.errors
        assert f"needs the {operation.needs} role" in error["message"]
        assert world.a.principal(role) in error["message"]
        if "export" not in operation.name:
            assert error["extensions"]["requiredRole"] == operation.needs
        assert world.event_count() == before


def test_a_write_by_a_role_token_is_recorded_under_the_token_s_name(world: World) -> None:
    submitter = world.as_(world.a.tokens["submitter"])
    figure = {"measureId": world.a.measure_id, "component": "total", "quarter": "Q3", "value": "1500"}

    submitted = submitter.execute(doc.SUBMIT_FIGURE, {"input": figure})["submitFigure"]["measure"]

    q3 = next(f for f in submitted["components"][0]["figures"] if f["quarter"] == "Q3")
    assert q3["recordedBy"] == world.a.principal("submitter")


def test_viewers_see_current_figures_but_not_who_recorded_them_over_time(world: World) -> None:
    viewer = world.as_(world.a.tokens["viewer"])

    outcome = posted(viewer, HISTORY, {"id": world.a.measure_id})

    # The measure itself is readable; only its history is refused, with a path to it.
    assert outcome.data["measure"] is None or outcome.data["measure"]["id"] == world.a.measure_id
    [error] = outcome.errors
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert error["path"] == ["measure", "history"]
