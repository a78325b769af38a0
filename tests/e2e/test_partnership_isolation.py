"""A principal of partnership A can neither read nor write partnership B's objects, by any route.

The callers are A's admin (every role, so a refusal is about the partnership
alone) and A's auditor; B's plan, measure and events are made by the operator
and B's own submitter.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from service.auth.tokens import create_token
from tests.conftest import DatabaseFactory
from tests.e2e import documents as doc
from tests.e2e.principals import (
    FROM_THE_START,
    LEDGER_EVENTS,
    STATUS_CHANGED,
    World,
    downloaded,
    posted,
    subscribed,
    two_partnerships,
)

TRAIL = "query($filter: AuditFilter) { auditTrail(filter: $filter, first: 500) { nodes { actor planId measureId } } }"


@pytest.fixture(scope="module")
def world(new_database: DatabaseFactory) -> Iterator[World]:
    with two_partnerships(new_database()) as made:
        yield made


def a_admin(world: World) -> str:
    return world.a.tokens["admin"]


# ----- queries


def test_plans_lists_only_the_principal_s_own_partnership_s_plans(world: World) -> None:
    for role in ("viewer", "admin"):
        plans = world.as_(world.a.tokens[role]).execute("{ plans { id partnership } }")["plans"]

        assert plans == [{"id": world.a.plan_id, "partnership": world.a.name}], role
    assert {p["id"] for p in world.operator.execute("{ plans { id } }")["plans"]} >= {world.a.plan_id, world.b.plan_id}


def test_asking_for_another_partnership_s_plans_is_forbidden(world: World) -> None:
    outcome = posted(
        world.as_(a_admin(world)), "query($p: String) { plans(partnership: $p) { id } }", {"p": world.b.name}
    )

    assert outcome.codes == ["FORBIDDEN"]
    assert world.b.name in outcome.errors[0]["message"]


def test_a_principal_sees_its_partnership_s_plans_whatever_case_they_were_created_in(world: World) -> None:
    # Plan identities ignore case, and so does the policy: the listing must agree with both.
    partnership = "Hartlepool Safer Partnership"
    plan = {
        "partnership": partnership.upper(),
        "title": "Reducing Reoffending 2013-14",
        "year": "2013-14",
        "periodStart": "2013-04-01",
        "periodEnd": "2014-03-31",
    }
    shouted = world.operator.execute(doc.CREATE_PLAN, {"input": plan})["createPlan"]["plan"]["id"]
    viewer = world.as_(create_token(world.database_url, "viewer@c.example", partnership=partnership, roles=["viewer"]))

    listed = viewer.execute("{ plans { id } }")["plans"]
    asked = viewer.execute(f'{{ plans(partnership: "{partnership.lower()}") {{ id }} }}')["plans"]
    read = viewer.execute("query($id: ID!) { plan(id: $id) { id } }", {"id": shouted})["plan"]

    assert read == {"id": shouted}
    assert listed == asked == [{"id": shouted}]


QUERIES = {
    # name: (document, B's object it names, the root field that must come back null)
    "plan": ("query($id: ID!) { plan(id: $id) { id title } }", "plan_id", "plan"),
    "plan asOf": ("query($id: ID!, $at: DateTime) { plan(id: $id, asOf: $at) { id } }", "plan_id", "plan"),
    "measure": ("query($id: ID!) { measure(id: $id) { id quarters { status } } }", "measure_id", "measure"),
    "measure asOf": ("query($id: ID!, $at: DateTime) { measure(id: $id, asOf: $at) { id } }", "measure_id", "measure"),
    "measure history": ("query($id: ID!) { measure(id: $id) { history { actor } } }", "measure_id", "measure"),
}


@pytest.mark.parametrize("name", list(QUERIES))
def test_reading_another_partnership_s_plan_or_measure_is_forbidden(world: World, name: str) -> None:
    document, which, field = QUERIES[name]
    variables = {"id": getattr(world.b, which)}
    if "$at" in document:
        variables["at"] = datetime.now(UTC).isoformat()

    outcome = posted(world.as_(a_admin(world)), document, variables)

    assert outcome.codes == ["FORBIDDEN"], outcome.body
    assert outcome.data == {field: None}
    assert world.b.name in outcome.errors[0]["message"]


# ----- mutations


def b_measure(world: World, **fields: Any) -> dict[str, Any]:
    return {"input": {"measureId": world.b.measure_id, **fields}}


def b_plan(world: World, **fields: Any) -> dict[str, Any]:
    return {"input": {"planId": world.b.plan_id, **fields}}


COMPONENTS = [{"key": "total", "label": "Offences"}]
MUTATIONS = {
    "createPlan": (
        doc.CREATE_PLAN,
        lambda w: {
            "input": {
                "partnership": w.b.name,
                "title": "A plan for someone else",
                "year": "2013-14",
                "periodStart": "2013-04-01",
                "periodEnd": "2014-03-31",
            }
        },
    ),
    "addTheme": (doc.ADD_THEME, lambda w: b_plan(w, code="9", title="Ours now")),
    "defineMeasure": (
        doc.DEFINE_MEASURE,
        lambda w: b_plan(
            w, themeCode="5", number="5.9", title="t", direction="REDUCE", basis="NONE", components=COMPONENTS
        ),
    ),
    "redefineMeasure": (
        doc.REDEFINE_MEASURE,
        lambda w: b_measure(w, title="t", direction="INCREASE", basis="NONE", components=COMPONENTS, reason="r"),
    ),
    "setBaseline": (doc.SET_BASELINE, lambda w: b_measure(w, component="total", value="1")),
    "resetBaseline": (doc.RESET_BASELINE, lambda w: b_measure(w, component="total", value="1", reason="r")),
    "submitFigure": (doc.SUBMIT_FIGURE, lambda w: b_measure(w, component="total", quarter="Q2", value="1")),
    "reviseFigure": (
        doc.REVISE_FIGURE,
        lambda w: b_measure(w, component="total", quarter="Q1", value="1", reason="r"),
    ),
    "markFigureUnavailable": (
        doc.MARK_UNAVAILABLE,
        lambda w: b_measure(w, component="total", quarter="Q3", reason="r"),
    ),
    "updateCommentary": (doc.UPDATE_COMMENTARY, lambda w: b_measure(w, quarter="Q1", text="Ours now")),
    "overrideStatus": (
        doc.OVERRIDE_STATUS,
        lambda w: b_measure(w, quarter="Q1", status="OFF_TRACK", reason="r"),
    ),
    "clearStatusOverride": (doc.CLEAR_OVERRIDE, lambda w: b_measure(w, quarter="Q1", reason="r")),
}


@pytest.mark.parametrize("name", list(MUTATIONS))
def test_writing_to_another_partnership_is_forbidden_and_records_nothing(world: World, name: str) -> None:
    document, variables = MUTATIONS[name]
    before = world.event_count()

    outcome = posted(world.as_(a_admin(world)), document, variables(world))

    assert outcome.codes == ["FORBIDDEN"], outcome.body
    assert world.b.name in outcome.errors[0]["message"]
    assert outcome.data == {}
    assert world.event_count() == before


# ----- subscriptions


@pytest.mark.parametrize(
    ("document", "variables"),
    [
        (STATUS_CHANGED, {"planId": "b.plan"}),
        (STATUS_CHANGED, {"measureId": "b.measure"}),
        (STATUS_CHANGED, {"planId": "a.plan", "measureId": "b.measure"}),
        (LEDGER_EVENTS, {"planId": "b.plan"}),
    ],
    ids=["statusChanged of B's plan", "statusChanged of B's measure", "statusChanged mixing", "ledgerEvents of B"],
)
def test_subscribing_to_another_partnership_s_feed_is_forbidden(
    world: World, document: str, variables: dict[str, str]
) -> None:
    ids = {"a.plan": world.a.plan_id, "b.plan": world.b.plan_id, "b.measure": world.b.measure_id}
    field = "statusChanged" if document == STATUS_CHANGED else "ledgerEvents"
    chosen = {k: ids[v] for k, v in variables.items()} | {"after": FROM_THE_START[field]}

    outcome = subscribed(world.ws_url, a_admin(world), document, chosen)

    assert outcome.codes == ["FORBIDDEN"], outcome.body
    assert world.b.name in outcome.errors[0]["message"]


@pytest.mark.parametrize(("document", "field"), [(STATUS_CHANGED, "statusChanged"), (LEDGER_EVENTS, "ledgerEvents")])
def test_a_partnership_s_principal_must_name_a_plan_to_subscribe(world: World, document: str, field: str) -> None:
    outcome = subscribed(world.ws_url, a_admin(world), document, {"after": FROM_THE_START[field]})

    assert outcome.codes == ["FORBIDDEN"], outcome.body
    assert outcome.errors[0]["extensions"]["field"] == "planId"
    assert "name a planId" in outcome.errors[0]["message"]


@pytest.mark.parametrize(("document", "field"), [(STATUS_CHANGED, "statusChanged"), (LEDGER_EVENTS, "ledgerEvents")])
def test_a_partnership_s_own_feed_replays_only_its_own_plan(world: World, document: str, field: str) -> None:
    variables = {"planId": world.a.plan_id, "after": FROM_THE_START[field]}

    outcome = subscribed(world.ws_url, a_admin(world), document, variables)

    assert outcome.ok, outcome.body
    assert outcome.data[field]["planId"] == world.a.plan_id


POLL = """query($planId: ID, $measureId: ID) {
  statusChanges(planId: $planId, measureId: $measureId) { nodes { planId } } }"""


@pytest.mark.parametrize(
    "variables",
    [{"planId": "b.plan"}, {"measureId": "b.measure"}, {"planId": "a.plan", "measureId": "b.measure"}, {}],
    ids=["B's plan", "B's measure", "mixing", "no plan named"],
)
def test_polling_another_partnership_s_status_changes_is_forbidden_as_subscribing_is(
    world: World, variables: dict[str, str]
) -> None:
    ids = {"a.plan": world.a.plan_id, "b.plan": world.b.plan_id, "b.measure": world.b.measure_id}

    outcome = posted(world.as_(a_admin(world)), POLL, {k: ids[v] for k, v in variables.items()})

    assert outcome.codes == ["FORBIDDEN"], outcome.body
    own = posted(world.as_(a_admin(world)), POLL, {"planId": world.a.plan_id})
    assert own.ok and {n["planId"] for n in own.data["statusChanges"]["nodes"]} == {world.a.plan_id}


# ----- downloads and the audit trail


def test_downloading_another_partnership_s_plan_is_forbidden(world: World) -> None:
    for fmt in ("yaml", "csv"):
        outcome = downloaded(world.url, f"/plans/{world.b.plan_id}/export", a_admin(world), format=fmt)

        assert outcome.status == 403
        assert outcome.codes == ["FORBIDDEN"]
        assert world.b.name in outcome.errors[0]["message"]


@pytest.mark.parametrize("which", ["planId", "measureId"])
def test_exporting_another_partnership_s_audit_trail_is_forbidden(world: World, which: str) -> None:
    b_id = world.b.plan_id if which == "planId" else world.b.measure_id

    outcome = downloaded(world.url, "/audit/export", world.a.tokens["auditor"], **{which: b_id})

    assert outcome.status == 403
    assert outcome.codes == ["FORBIDDEN"]


def test_the_audit_export_of_a_partnership_s_auditor_holds_its_own_entries_only(world: World) -> None:
    everything = downloaded(world.url, "/audit/export", create_token(world.database_url, "national@auditor.example"))
    own = downloaded(world.url, "/audit/export", world.a.tokens["auditor"])

    every_row = list(csv.DictReader(io.StringIO(everything.body["text"])))
    own_rows = list(csv.DictReader(io.StringIO(own.body["text"])))
    assert own_rows and {r["planId"] for r in own_rows} == {world.a.plan_id}
    assert own_rows == [r for r in every_row if r["planId"] == world.a.plan_id]
    assert world.b.principal("submitter") not in own.body["text"]


def test_a_partnership_s_auditor_sees_none_of_another_s_entries_in_the_audit_trail(world: World) -> None:
    auditor = world.as_(world.a.tokens["auditor"])

    unfiltered = auditor.execute(TRAIL)["auditTrail"]["nodes"]
    by_b_actor = auditor.execute(TRAIL, {"filter": {"actor": world.b.principal("submitter")}})["auditTrail"]["nodes"]

    assert unfiltered and {e["planId"] for e in unfiltered} == {world.a.plan_id}
    assert world.a.principal("submitter") in {e["actor"] for e in unfiltered}
    assert by_b_actor == []
    everyone = world.operator.execute(TRAIL)["auditTrail"]["nodes"]
    assert {e["planId"] for e in everyone} >= {world.a.plan_id, world.b.plan_id}


@pytest.mark.parametrize("which", ["planId", "measureId"])
def test_filtering_the_audit_trail_by_another_partnership_s_plan_is_forbidden(world: World, which: str) -> None:
    b_id = world.b.plan_id if which == "planId" else world.b.measure_id

    outcome = posted(world.as_(world.a.tokens["auditor"]), TRAIL, {"filter": {which: b_id}})

    assert outcome.codes == ["FORBIDDEN"]
    assert world.b.name in outcome.errors[0]["message"]


def test_an_unknown_id_is_not_found_for_its_own_partnership_rather_than_forbidden(world: World) -> None:
    unknown = "00000000-0000-0000-0000-000000000000"

    read = world.as_(world.a.tokens["viewer"]).execute("query($id: ID!) { measure(id: $id) { id } }", {"id": unknown})
    write = posted(
        world.as_(world.a.tokens["submitter"]),
        doc.SUBMIT_FIGURE,
        {"input": {"measureId": unknown, "component": "total", "quarter": "Q1", "value": "1"}},
    )

    assert read == {"measure": None}
    assert write.codes == ["NOT_FOUND"]
