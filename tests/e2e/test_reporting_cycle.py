"""The quarterly reporting cycle over HTTP alone, on a fresh ledger: a quarter collected from its owners, one
return sent back and given in again, approved by someone other than its submitter, published, locked, reopened
for a correction the publication flags, and its digest checked with `measure-ledger verify`."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from service.auth.tokens import create_token
from tests.e2e import documents as doc
from tests.e2e.given import a_plan, criminal_damage
from tests.e2e.live import GraphQLClient, serving
from tests.e2e.principals import event_count

STOCKTON = "Safer Stockton Partnership"
POLICE, COUNCIL = "police.analyst@cleveland-police.example", "asb.officer@stockton-council.example"
LEAD, DEPUTY = "performance.lead@safer-stockton.example", "deputy.lead@safer-stockton.example"
CLI = Path(sys.executable).with_name("measure-ledger")
BOARD = {"title": "Partnership board, 25 September 2012", "presentedOn": "2012-09-25"}


@dataclass
class Cycle:
    """A live server on a fresh ledger, a plan with 5.1 and 5.2, and the principals of its cycle."""

    database_url: str
    plan_id: str
    damage: str  # 5.1
    repeats: str  # 5.2
    as_: dict[str, GraphQLClient]

    def events(self) -> int:
        return event_count(self.database_url)

    def refused(self, who: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        """The one error a request gets, having recorded nothing."""
        before = self.events()
        (error,) = self.as_[who].errors(query, variables)
        assert self.events() == before
        return error


@pytest.fixture
def cycle(database_url: str) -> Iterator[Cycle]:
    with serving(database_url) as live:
        operator = GraphQLClient(live.url, create_token(database_url, "operator@ledger.example"))
        plan_id = a_plan(operator, partnership=STOCKTON)
        damage = criminal_damage(operator, plan_id, "5.1")["id"]
        repeats = criminal_damage(operator, plan_id, "5.2")["id"]

        def token(name: str, *roles: str, partnership: str = STOCKTON) -> GraphQLClient:
            return operator.as_(create_token(database_url, name, partnership=partnership, roles=list(roles)))

        clients = {
            "editor": token("editor@safer-stockton.example", "editor"),
            POLICE: token(POLICE, "submitter"),
            COUNCIL: token(COUNCIL, "submitter"),
            LEAD: token(LEAD, "approver", "auditor"),
            DEPUTY: token(DEPUTY, "approver", "editor"),
            "durham": token("lead@durham.example", "approver", "auditor", partnership="Durham Partnership"),
        }
        yield Cycle(database_url, plan_id, damage, repeats, clients)


def returned(m: dict[str, Any], quarter: str) -> dict[str, Any]:
    found: dict[str, Any] = next(r for r in m["returns"] if r["quarter"] == quarter)
    return found


def test_a_quarter_is_collected_approved_published_locked_reopened_and_its_digest_verified(cycle: Cycle) -> None:
    c, lead = cycle, cycle.as_[LEAD]
    q1_51, q1_52 = {"measureId": c.damage, "quarter": "Q1"}, {"measureId": c.repeats, "quarter": "Q1"}

    # Who reports what, and by when.
    for measure_id, owner, agency in ((c.damage, POLICE, "Cleveland Police"), (c.repeats, COUNCIL, "Council")):
        owned = {"measureId": measure_id, "principal": owner, "agency": agency}
        c.as_["editor"].execute(doc.ASSIGN_OWNER, {"input": owned})
    due = {"planId": c.plan_id, "quarter": "Q1", "dueOn": "2012-07-31"}
    assert (
        lead.execute(doc.OPEN_COLLECTION, {"input": due})["openCollection"]["plan"]["collections"][0]["openedBy"]
        == LEAD
    )
    waiting = lead.execute(doc.RETURNS, {"planId": c.plan_id, "quarter": "Q1"})["returns"]
    assert waiting["counts"]["outstanding"] == 2 and waiting["overdue"] and waiting["dueOn"] == "2012-07-31"

    # The owners report and give their returns in; one cannot give in another's.
    c.as_[POLICE].execute(doc.SUBMIT_FIGURE, {"input": {**q1_51, "component": "total", "value": "492"}})
    c.as_[COUNCIL].execute(doc.SUBMIT_FIGURE, {"input": {**q1_52, "component": "total", "value": "20"}})
    assert c.refused(COUNCIL, doc.SUBMIT_RETURN, {"input": q1_51})["extensions"]["code"] == "FORBIDDEN"
    c.as_[POLICE].execute(doc.SUBMIT_RETURN, {"input": q1_51})
    c.as_[COUNCIL].execute(doc.SUBMIT_RETURN, {"input": q1_52})
    locked = c.refused(
        POLICE, doc.REVISE_FIGURE, {"input": {**q1_51, "component": "total", "value": "1", "reason": "x"}}
    )
    assert locked["extensions"] == {"code": "LOCKED", "field": "quarter", "returnState": "SUBMITTED"}

    # 5.2 goes back with a reason; an editor gives the corrected return in for its owner.
    sent = lead.execute(doc.SEND_BACK_RETURN, {"input": {**q1_52, "reason": "20 counts victims, not repeats"}})
    assert returned(sent["sendBackReturn"]["measure"], "Q1")["state"] == "SENT_BACK"
    c.as_[COUNCIL].execute(
        doc.REVISE_FIGURE, {"input": {**q1_52, "component": "total", "value": "9", "reason": "repeats"}}
    )
    c.as_[DEPUTY].execute(doc.SUBMIT_RETURN, {"input": q1_52})

    # Approvals: never by whoever submitted, never of a return not given in.
    own = c.refused(DEPUTY, doc.APPROVE_RETURN, {"input": q1_52})
    assert own["extensions"]["code"] == "FORBIDDEN" and DEPUTY in own["message"]
    never = c.refused(LEAD, doc.APPROVE_RETURN, {"input": {**q1_51, "quarter": "Q2"}})
    assert never["extensions"] == {"code": "VALIDATION", "field": "quarter"} and "never submitted" in never["message"]
    for q1 in (q1_51, q1_52):
        lead.execute(doc.APPROVE_RETURN, {"input": q1})
    sent_at = lead.execute(
        "query($f: AuditFilter) { auditTrail(filter: $f) { nodes { recordedAt } } }",
        {"f": {"measureId": c.repeats, "action": "ReturnSentBack"}},
    )["auditTrail"]["nodes"][0]["recordedAt"]
    then = lead.execute(
        "query($id: ID!, $at: DateTime) { measure(id: $id, asOf: $at) { returns { state } } }",
        {"id": c.repeats, "at": sent_at},
    )
    assert then["measure"]["returns"][0]["state"] == "SENT_BACK"
    done = lead.execute(doc.RETURNS, {"planId": c.plan_id, "quarter": "Q1"})["returns"]
    assert done["counts"] == {"total": 2, "outstanding": 0, "submitted": 0, "approved": 2, "sentBack": 0, "reopened": 0}

    # Published: the state now is what the publication shows, with the chain's link at its position.
    shown = lead.execute(doc.PUBLISHED_PLAN, {"id": c.plan_id})["plan"]
    published = lead.execute(doc.PUBLISH_QUARTER, {"input": {"planId": c.plan_id, "quarter": "Q1", **BOARD}})
    publication = published["publishQuarter"]["publication"]
    assert publication["digest"].startswith(f"{publication['position']}:") and not publication["forced"]
    again = c.refused(LEAD, doc.PUBLISH_QUARTER, {"input": {"planId": c.plan_id, "quarter": "Q1", **BOARD}})
    assert "nothing in the plan has changed" in again["message"]

    # Locked until reopened, with a reason, by an approver.
    change = {**q1_51, "component": "total", "value": "495", "reason": "late crimes recorded"}
    locked = c.refused(POLICE, doc.REVISE_FIGURE, {"input": change})
    assert locked["extensions"]["code"] == "LOCKED" and f"approved by {LEAD}" in locked["message"]
    assert "reopenReturn" in locked["message"]
    assert c.refused(LEAD, doc.REOPEN_RETURN, {"input": {**q1_51, "reason": " "}})["extensions"]["field"] == "reason"
    assert (
        c.refused(POLICE, doc.REOPEN_RETURN, {"input": {**q1_51, "reason": "x"}})["extensions"]["code"] == "FORBIDDEN"
    )
    lead.execute(doc.REOPEN_RETURN, {"input": {**q1_51, "reason": "late crimes recorded"}})
    c.as_[POLICE].execute(doc.REVISE_FIGURE, {"input": change})

    history = lead.execute("query($id: ID!) { measure(id: $id) { history { action } } }", {"id": c.damage})
    actions = [e["action"] for e in history["measure"]["history"]]
    assert actions[-4:] == ["ReturnSubmitted", "ReturnApproved", "ReturnReopened", "FigureRevised"]

    # What changed since, on the figure and in the trail; and the publication still shows what it showed.
    since = lead.execute(doc.CHANGES_SINCE, {"id": publication["id"]})["changesSince"]["nodes"]
    assert [(e["action"], e["measureNumber"]) for e in since] == [("ReturnReopened", "5.1"), ("FigureRevised", "5.1")]
    now = lead.execute(doc.PUBLISHED_PLAN, {"id": c.plan_id})["plan"]
    flags = {m["number"]: m["components"][0]["figures"][0]["revisedAfterPublication"] for m in now["measures"]}
    assert flags == {"5.1": True, "5.2": False}
    view = lead.execute(doc.PUBLISHED_PLAN, {"id": c.plan_id, "publication": publication["id"]})["plan"]
    assert view == shown

    # The printed digest checks the ledger.
    verified = subprocess.run(
        [str(CLI), "verify", "--digest", publication["digest"]],
        env={**os.environ, "DATABASE_URL": c.database_url},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert f"the store matches the published digest {publication['digest']}" in verified.stdout


def test_publishing_with_returns_outstanding_needs_force_and_a_reason_and_records_them(cycle: Cycle) -> None:
    c, lead = cycle, cycle.as_[LEAD]
    q2 = {"planId": c.plan_id, "quarter": "Q2", **BOARD}
    c.as_[POLICE].execute(doc.SUBMIT_RETURN, {"input": {"measureId": c.damage, "quarter": "Q2"}})

    with psycopg.connect(c.database_url, autocommit=True) as conn:
        conn.execute("UPDATE read_model_meta SET version = -version")  # as a rebuild in place marks it
        try:
            rebuilding = c.refused(LEAD, doc.PUBLISH_QUARTER, {"input": {**q2, "force": True, "reason": "x"}})
        finally:
            conn.execute("UPDATE read_model_meta SET version = -version")
    assert rebuilding["extensions"]["code"] == "CONFLICT" and "rebuilt" in rebuilding["message"]
    unforced = c.refused(LEAD, doc.PUBLISH_QUARTER, {"input": q2})
    assert unforced["extensions"]["field"] == "force" and "5.1 (SUBMITTED), 5.2 (OUTSTANDING)" in unforced["message"]
    assert c.refused(LEAD, doc.PUBLISH_QUARTER, {"input": {**q2, "force": True}})["extensions"]["field"] == "reason"
    forced = lead.execute(doc.PUBLISH_QUARTER, {"input": {**q2, "force": True, "reason": "5.2 late"}})

    publication = forced["publishQuarter"]["publication"]
    assert (publication["forced"], publication["reason"]) == (True, "5.2 late")
    assert publication["outstanding"] == [
        {"measureNumber": "5.1", "state": "SUBMITTED"},
        {"measureNumber": "5.2", "state": "OUTSTANDING"},
    ]
    trail = lead.execute(
        "query($f: AuditFilter) { auditTrail(filter: $f) { nodes { action quarter after reason } } }",
        {"f": {"planId": c.plan_id, "action": "QuarterPublished"}},
    )["auditTrail"]["nodes"]
    assert trail == [
        {
            "action": "QuarterPublished",
            "quarter": "Q2",
            "after": f"{BOARD['title']}, presented 2012-09-25, position {publication['position']},"
            " outstanding 5.1 (SUBMITTED), 5.2 (OUTSTANDING)",
            "reason": "5.2 late",
        }
    ]


def test_another_partnerships_approver_can_neither_approve_nor_publish_nor_see(cycle: Cycle) -> None:
    c = cycle
    q1 = {"measureId": c.damage, "quarter": "Q1"}
    c.as_[POLICE].execute(doc.SUBMIT_RETURN, {"input": q1})
    c.as_[LEAD].execute(doc.APPROVE_RETURN, {"input": q1})
    c.as_[COUNCIL].execute(doc.SUBMIT_RETURN, {"input": {**q1, "measureId": c.repeats}})  # no owner: any submitter
    c.as_[DEPUTY].execute(doc.APPROVE_RETURN, {"input": {**q1, "measureId": c.repeats}})
    published = c.as_[LEAD].execute(doc.PUBLISH_QUARTER, {"input": {"planId": c.plan_id, "quarter": "Q1", **BOARD}})
    publication_id = published["publishQuarter"]["publication"]["id"]

    for query, variables in (
        (doc.APPROVE_RETURN, {"input": {**q1, "quarter": "Q2"}}),
        (doc.REOPEN_RETURN, {"input": {**q1, "reason": "ours now"}}),
        (doc.PUBLISH_QUARTER, {"input": {"planId": c.plan_id, "quarter": "Q2", **BOARD}}),
        (doc.RETURNS, {"planId": c.plan_id, "quarter": "Q1"}),
        ("query($id: ID!) { publication(id: $id) { title } }", {"id": publication_id}),
        (doc.CHANGES_SINCE, {"id": publication_id}),
        (doc.PUBLISHED_PLAN, {"id": c.plan_id, "publication": publication_id}),
    ):
        error = c.refused("durham", query, variables)
        assert error["extensions"]["code"] == "FORBIDDEN", (query, error)
