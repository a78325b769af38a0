"""Each role may do what its table row says and nothing more; every refusal is FORBIDDEN naming the role needed.

Roles: viewer reads the present; auditor adds history, time travel, the audit
trail and exports; submitter adds figures, commentary and returns; editor adds plans,
themes, measures, baselines, status overrides and owners (and gives returns in for
owners); approver opens collections, approves, sends back and reopens returns and
publishes; admin may do everything, and alone manages webhooks.
Every call here is made by a token of partnership A on A's own objects, so a
refusal is about the role alone (partnership isolation is test_partnership_isolation.py).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from graphql import build_schema

from service.auth.tokens import create_token
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

SCHEMA = Path(__file__).resolve().parents[2] / "schema.graphql"


@pytest.fixture(scope="module")
def world(new_database: DatabaseFactory) -> Iterator[World]:
    with two_partnerships(new_database()) as made:
        yield made


# ----- the operations: each is called as `call(world, token, target)`; `target` is A's measure 5.1 unless
# the operation has a `fresh` set-up, made by the operator for a caller that is expected to succeed.

Call = Callable[[World, str, str], Outcome]
DEFINITION = {
    "title": "Reduce Criminal Damage",
    "direction": "REDUCE",
    "basis": "YTD_PRO_RATA",
    "components": [{"key": "total", "label": "Criminal damage offences"}],
}


@dataclass(frozen=True)
class Operation:
    name: str
    needs: str  # the least role that may call it
    call: Call
    fresh: Callable[[World], str] | None = None
    writes: bool = False
    also: tuple[str, ...] = ()  # other roles that may call it

    def allowed(self, role: str) -> bool:
        return role in (self.needs, "admin", *self.also) or self.needs == "viewer"


def writing(
    name: str, needs: str, call: Call, fresh: Callable[[World], str] | None = None, also: tuple[str, ...] = ()
) -> Operation:
    """An operation that records one event for a caller allowed it."""
    return Operation(name, needs, call, fresh, writes=True, also=also)


def query(document: str, **variables: Any) -> Call:
    def call(world: World, token: str, target: str) -> Outcome:
        values = {k: (v(world, target) if callable(v) else v) for k, v in variables.items()}
        return posted(world.as_(token), document, values)

    return call


REVISED = itertools.count(493)


def a_new_value() -> str:
    """A figure not given before."""
    return str(next(REVISED))


def a_new_number() -> str:
    """A measure number not used before."""
    return unique("5.")


def mutation(document: str, **fields: Any) -> Call:
    """A mutation of the target measure with `fields` as its input (a callable field is called each time)."""

    def call(world: World, token: str, target: str) -> Outcome:
        values = {k: (v() if callable(v) else v) for k, v in fields.items()}
        return posted(world.as_(token), document, {"input": {**values, "measureId": target}})

    return call


def plan_mutation(document: str, **fields: Any) -> Call:
    def call(world: World, token: str, target: str) -> Outcome:
        values = {k: (v() if callable(v) else v) for k, v in fields.items()}
        return posted(world.as_(token), document, {"input": {**values, "planId": world.a.plan_id}})

    return call


def download(path: Callable[[World], str], **params: str) -> Call:
    def call(world: World, token: str, target: str) -> Outcome:
        return downloaded(world.url, path(world), token, **params)

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
    definition = {"planId": world.a.plan_id, "themeCode": "5", "number": unique("5."), **DEFINITION}
    data = world.operator.execute(doc.DEFINE_MEASURE, {"input": definition})
    measure_id: str = data["defineMeasure"]["measure"]["id"]
    return measure_id


def fresh_measure(world: World) -> str:
    measure_id: str = criminal_damage(world.operator, world.a.plan_id, number=unique("5."))["id"]
    return measure_id


def overridden_q2(world: World) -> str:
    override = {"measureId": world.a.measure_id, "quarter": "Q2", "status": "AT_RISK", "reason": "known gap"}
    world.operator.execute(doc.OVERRIDE_STATUS, {"input": override})
    return world.a.measure_id


def a_measure_id(world: World, target: str) -> str:
    return world.a.measure_id


def a_plan_id(world: World, target: str) -> str:
    return world.a.plan_id


def now(world: World, target: str) -> str:
    return datetime.now(UTC).isoformat()


# A webhook for A's plan that nothing in this world is ever sent (no quarter is published): no request leaves.
WEBHOOK_INPUT = {"url": "https://hooks.example.org/ledger", "kinds": ["QUARTER_PUBLISHED"]}
CREATE_WEBHOOK = "mutation($input: CreateWebhookInput!) { createWebhook(input: $input) { webhook { id } } }"


def create_webhook(world: World, token: str, target: str) -> Outcome:
    return posted(world.as_(token), CREATE_WEBHOOK, {"input": {**WEBHOOK_INPUT, "planId": world.a.plan_id}})


def a_webhook(world: World) -> str:
    data = world.operator.execute(CREATE_WEBHOOK, {"input": {**WEBHOOK_INPUT, "planId": world.a.plan_id}})
    webhook_id: str = data["createWebhook"]["webhook"]["id"]
    return webhook_id


def on_webhook(document: str) -> Call:
    """A mutation of the target webhook (for a caller refused, the target is a measure's id: it is never found)."""

    def call(world: World, token: str, target: str) -> Outcome:
        return posted(world.as_(token), document, {"id": target})

    return call


def target(world: World, target: str) -> str:
    return target


def on_plan(document: str, **fields: Any) -> Call:
    """A mutation of the target plan (for a caller refused, the target is a measure's id: no plan has it)."""

    def call(world: World, token: str, target: str) -> Outcome:
        return posted(world.as_(token), document, {"input": {**fields, "planId": target}})

    return call


def fresh_plan(world: World) -> str:
    plan = {"partnership": world.a.name, "title": unique("Plan "), "year": "2012-13"}
    dates = {"periodStart": "2012-04-01", "periodEnd": "2013-03-31"}
    plan_id: str = world.operator.execute(doc.CREATE_PLAN, {"input": {**plan, **dates}})["createPlan"]["plan"]["id"]
    return plan_id


def plan_collecting_q1(world: World) -> str:
    plan_id = fresh_plan(world)
    world.operator.execute(doc.OPEN_COLLECTION, {"input": {"planId": plan_id, "quarter": "Q1", "dueOn": "2012-07-31"}})
    return plan_id


def a_publication(world: World) -> str:
    plan_id = fresh_plan(world)
    published = world.operator.execute(doc.PUBLISH_QUARTER, {"input": {"planId": plan_id, **BOARD}})
    publication_id: str = published["publishQuarter"]["publication"]["id"]
    return publication_id


def submitted_q1(world: World) -> str:
    """A fresh measure whose Q1 return the submitter gave in (so that the operator may approve it)."""
    measure_id = fresh_measure(world)
    world.as_(world.a.tokens["submitter"]).execute(doc.SUBMIT_RETURN, {"input": {"measureId": measure_id, **Q1}})
    return measure_id


def approved_q1(world: World) -> str:
    measure_id = submitted_q1(world)
    world.operator.execute(doc.APPROVE_RETURN, {"input": {"measureId": measure_id, **Q1}})
    return measure_id


BOARD = {"quarter": "Q1", "title": "Partnership board", "presentedOn": "2012-09-25"}
Q1 = {"quarter": "Q1"}
TOTAL = {"component": "total"}
OWNER = {"principal": "officer@stockton.gov.uk", "agency": "Cleveland Police"}


PLAN = "query($id: ID!) { plan(id: $id) { id title } }"
PLAN_AS_OF = "query($id: ID!, $at: DateTime) { plan(id: $id, asOf: $at) { id title } }"
MEASURE = "query($id: ID!) { measure(id: $id) { id status quarters { quarter status } } }"
MEASURE_AS_OF = "query($id: ID!, $at: DateTime) { measure(id: $id, asOf: $at) { id status } }"
HISTORY = "query($id: ID!) { measure(id: $id) { id history { actor } } }"
STATUS_CHANGES = "query($id: ID!) { statusChanges(planId: $id, first: 5) { nodes { quarter to } } }"
HISTORY_PAGE = "query($id: ID!) { measure(id: $id) { id historyConnection(first: 5) { nodes { actor } } } }"
REPORT_LINK = "query($plan: ID!, $at: DateTime) { reportLink(planId: $plan, asOf: $at) { url expiresAt } }"

OPERATIONS = [
    # read current
    Operation("plans", "viewer", query("{ plans { id partnership } }")),
    Operation("plansConnection", "viewer", query("{ plansConnection(first: 5) { nodes { id partnership } } }")),
    Operation("plan", "viewer", query(PLAN, id=a_plan_id)),
    Operation("measure", "viewer", query(MEASURE, id=a_measure_id)),
    Operation("statusChanged", "viewer", subscription(STATUS_CHANGED, "statusChanged")),
    Operation("statusChanges", "viewer", query(STATUS_CHANGES, id=a_plan_id)),
    Operation("reportLink", "viewer", query(REPORT_LINK, plan=a_plan_id)),
    Operation("report export", "viewer", download(lambda w: f"/reports/{w.a.plan_id}")),
    Operation("returns", "viewer", query(doc.RETURNS, planId=a_plan_id, quarter="Q1")),
    Operation(
        "publication",
        "viewer",
        query("query($id: ID!) { publication(id: $id) { title } }", id=target),
        fresh=a_publication,
    ),  # fmt: skip
    # read audit
    Operation("history", "auditor", query(HISTORY, id=a_measure_id)),
    Operation("historyConnection", "auditor", query(HISTORY_PAGE, id=a_measure_id)),
    Operation("plan asOf", "auditor", query(PLAN_AS_OF, id=a_plan_id, at=now)),
    Operation("measure asOf", "auditor", query(MEASURE_AS_OF, id=a_measure_id, at=now)),
    Operation("auditTrail", "auditor", query("{ auditTrail(first: 5) { nodes { actor action } } }")),
    Operation("auditDigest", "auditor", query("{ auditDigest { position hash } }")),
    Operation("reportLink asOf", "auditor", query(REPORT_LINK, plan=a_plan_id, at=now)),
    Operation("report asOf export", "auditor", download(lambda w: f"/reports/{w.a.plan_id}", asOf="2030-01-01T00:00Z")),
    Operation(
        "report history export",
        "auditor",
        download(lambda w: f"/reports/{w.a.plan_id}/measures/{w.a.measure_id}/history"),
    ),
    Operation("plan export", "auditor", download(lambda w: f"/plans/{w.a.plan_id}/export")),
    Operation("audit export", "auditor", download(lambda w: "/audit/export")),
    Operation("ledgerEvents", "auditor", subscription(LEDGER_EVENTS, "ledgerEvents")),
    Operation("changesSince", "auditor", query(doc.CHANGES_SINCE, id=target), fresh=a_publication),
    # submit
    writing("submitFigure", "submitter", mutation(doc.SUBMIT_FIGURE, **TOTAL, **Q1, value="500"), fresh_measure),
    # A new value each call: a revision that changes nothing is refused whoever asks.
    writing("reviseFigure", "submitter", mutation(doc.REVISE_FIGURE, **TOTAL, **Q1, value=a_new_value, reason="late")),
    writing(
        "markFigureUnavailable",
        "submitter",
        mutation(doc.MARK_UNAVAILABLE, **TOTAL, quarter="Q4", reason="system outage"),
    ),
    writing("updateCommentary", "submitter", mutation(doc.UPDATE_COMMENTARY, quarter="Q2", text="Improving.")),
    # edit
    writing("createPlan", "editor", create_plan),
    writing("addTheme", "editor", plan_mutation(doc.ADD_THEME, code=lambda: unique("T"), title="Reoffending")),
    writing(
        "defineMeasure", "editor", plan_mutation(doc.DEFINE_MEASURE, themeCode="5", number=a_new_number, **DEFINITION)
    ),
    writing("setBaseline", "editor", mutation(doc.SET_BASELINE, **TOTAL, value="2472"), measure_without_baseline),
    writing("resetBaseline", "editor", mutation(doc.RESET_BASELINE, **TOTAL, value="2500", reason="recount")),
    writing(
        "overrideStatus", "editor", mutation(doc.OVERRIDE_STATUS, quarter="Q3", status="AT_RISK", reason="partial data")
    ),
    writing(
        "clearStatusOverride",
        "editor",
        mutation(doc.CLEAR_OVERRIDE, quarter="Q2", reason="data now complete"),
        overridden_q2,
    ),
    writing(
        "redefineMeasure", "editor", mutation(doc.REDEFINE_MEASURE, **DEFINITION, reason="wording agreed at the board")
    ),
    writing("assignOwner", "editor", mutation(doc.ASSIGN_OWNER, **OWNER), fresh_measure),
    # submit a return: a submitter of a measure with no owner yet, or an editor for its owner
    writing("submitReturn", "submitter", mutation(doc.SUBMIT_RETURN, **Q1), fresh_measure, also=("editor",)),
    # approve
    writing("approveReturn", "approver", mutation(doc.APPROVE_RETURN, **Q1), submitted_q1),
    writing("sendBackReturn", "approver", mutation(doc.SEND_BACK_RETURN, **Q1, reason="check it"), submitted_q1),
    writing("reopenReturn", "approver", mutation(doc.REOPEN_RETURN, **Q1, reason="a correction"), approved_q1),
    writing("openCollection", "approver", on_plan(doc.OPEN_COLLECTION, **Q1, dueOn="2012-07-31"), fresh_plan),
    writing(
        "changeDueDate",
        "approver",
        on_plan(doc.CHANGE_DUE_DATE, **Q1, dueOn="2012-08-15", reason="holidays"),
        plan_collecting_q1,
    ),
    writing("publishQuarter", "approver", on_plan(doc.PUBLISH_QUARTER, **BOARD), fresh_plan),
    # admin: webhooks (configuration, not events of the ledger)
    Operation("webhooks", "admin", query("{ webhooks { id url } }")),
    Operation("webhook", "admin", query("query($id: ID!) { webhook(id: $id) { id } }", id=target), fresh=a_webhook),
    Operation("createWebhook", "admin", create_webhook),
    *(
        Operation(
            name,
            "admin",
            on_webhook(f"mutation($id: ID!) {{ {name}(input: {{{arguments}}}) {{ {out} }} }}"),
            fresh=a_webhook,
        )
        for name, arguments, out in (
            ("pauseWebhook", "id: $id", "webhook { state }"),
            ("resumeWebhook", "id: $id", "webhook { state }"),
            ("replayWebhook", "id: $id", "webhook { cursor }"),
            ("rotateWebhookSecret", "id: $id", "secret"),
            ("deleteWebhook", "id: $id", "id"),
        )
    ),
]

CASES = [(op, role) for op in OPERATIONS for role in ROLES]


def test_the_table_covers_every_query_mutation_and_subscription_of_the_schema() -> None:
    schema = build_schema(SCHEMA.read_text())
    roots = [schema.query_type, schema.mutation_type, schema.subscription_type]
    fields = {name for root in roots if root is not None for name in root.fields}
    assert fields <= {op.name for op in OPERATIONS}
    assert {op.needs for op in OPERATIONS} == {"viewer", "auditor", "submitter", "editor", "approver", "admin"}


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


def test_a_viewer_asking_for_a_measure_s_history_is_refused_that_field_with_its_path(world: World) -> None:
    viewer = world.as_(world.a.tokens["viewer"])

    outcome = posted(viewer, HISTORY, {"id": world.a.measure_id})

    # Only the history is refused, with a path to it; the non-null list's null reaches the measure.
    assert outcome.data == {"measure": None}
    [error] = outcome.errors
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert error["path"] == ["measure", "history"]


# ----- scoped principals: writes limited to some themes or measure numbers; reads stay partnership-wide


@pytest.fixture(scope="module")
def theme_6(world: World) -> str:
    """Measure 6.1 of a second theme of A's plan, with its baseline."""
    world.operator.execute(doc.ADD_THEME, {"input": {"planId": world.a.plan_id, "code": "6", "title": "Reoffending"}})
    data = world.operator.execute(
        doc.DEFINE_MEASURE,
        {"input": {"planId": world.a.plan_id, "themeCode": "6", "number": "6.1", **DEFINITION}},
    )
    measure_id: str = data["defineMeasure"]["measure"]["id"]
    world.operator.execute(doc.SET_BASELINE, {"input": {"measureId": measure_id, "component": "total", "value": "80"}})
    return measure_id


def scoped(world: World, role: str, **scope: list[str]) -> str:
    return create_token(world.database_url, unique("scoped-"), partnership=world.a.name, roles=[role], **scope)


def submit(world: World, token: str, measure_id: str, quarter: str = "Q1") -> Outcome:
    figure = {"measureId": measure_id, "component": "total", "quarter": quarter, "value": "10"}
    return posted(world.as_(token), doc.SUBMIT_FIGURE, {"input": figure})


@pytest.mark.parametrize("scope", [{"themes": ["5"]}, {"measures": ["5.scoped"]}], ids=["by theme", "by measure"])
def test_a_scoped_submitter_may_submit_within_its_scope_and_is_forbidden_outside_it(
    world: World, theme_6: str, scope: dict[str, list[str]]
) -> None:
    number = "5.scoped" if "measures" in scope else unique("5.")
    in_scope = criminal_damage(world.operator, world.a.plan_id, number=number)["id"]
    token = scoped(world, "submitter", **scope)
    before = world.event_count()

    inside = submit(world, token, in_scope)
    outside = submit(world, token, theme_6, "Q2")

    assert inside.ok, inside.body
    assert outside.codes == ["FORBIDDEN"], outside.body
    assert "outside the scope" in outside.errors[0]["message"] and "'6.1'" in outside.errors[0]["message"]
    assert world.event_count() == before + 1


def test_a_scoped_principal_still_reads_the_whole_partnership(world: World, theme_6: str) -> None:
    token = scoped(world, "submitter", themes=["5"])

    outcome = posted(world.as_(token), MEASURE, {"id": theme_6})

    assert outcome.ok and outcome.data["measure"]["id"] == theme_6


def test_a_scoped_editor_may_define_measures_in_its_theme_but_not_change_the_plan(world: World, theme_6: str) -> None:
    token = scoped(world, "editor", themes=["5"])
    editor = world.as_(token)
    definition = {"planId": world.a.plan_id, "number": unique("5."), **DEFINITION}

    defined = posted(editor, doc.DEFINE_MEASURE, {"input": {**definition, "themeCode": "5"}})
    other_theme = posted(editor, doc.DEFINE_MEASURE, {"input": {**definition, "themeCode": "6"}})
    new_theme = posted(editor, doc.ADD_THEME, {"input": {"planId": world.a.plan_id, "code": "7", "title": "t"}})
    override = {"measureId": theme_6, "quarter": "Q1", "status": "AT_RISK", "reason": "r"}
    overridden = posted(editor, doc.OVERRIDE_STATUS, {"input": override})

    assert defined.ok, defined.body
    assert other_theme.codes == new_theme.codes == overridden.codes == ["FORBIDDEN"]
    assert "a plan-level change is outside the scope" in new_theme.errors[0]["message"]
