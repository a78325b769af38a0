"""The 2012-13 demo's reporting cycle over HTTP: its resets in the audit trail, what each board was shown, and
the quarter still being collected."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from service.auth.tokens import create_token
from tests.conftest import DatabaseFactory
from tests.e2e import documents as doc
from tests.e2e.demo import serving_demo
from tests.e2e.live import GraphQLClient

RESETS = """query($planId: ID!) { auditTrail(filter: {planId: $planId, action: "BaselineReset"}) {
  nodes { measureNumber component field before after reason } } }"""
FIGURES = """query($id: ID!, $publication: ID) { plan(id: $id, publication: $publication) {
  publications { quarter title presentedOn digest }
  measures { number components { figures { quarter value revisedAfterPublication } } } } }"""


@pytest.fixture(scope="module")
def demo(new_database: DatabaseFactory) -> Iterator[tuple[GraphQLClient, str]]:
    database_url = new_database()
    with serving_demo(database_url) as (server, plan_id):
        yield GraphQLClient(server.url, create_token(database_url, "auditor@stockton.example")), str(plan_id)


def test_4_3_and_5_2_are_listed_as_baseline_resets_with_the_reports_reason_and_no_earlier_value(
    demo: tuple[GraphQLClient, str],
) -> None:
    client, plan_id = demo

    resets = client.execute(RESETS, {"planId": plan_id})["auditTrail"]["nodes"]

    assert [(r["measureNumber"], r["field"], r["before"], r["after"]) for r in resets] == [
        ("4.3", "baseline", None, "52"),
        ("5.2", "baseline", None, "34"),
    ]
    assert [r["reason"] for r in resets] == [
        "baseline re-set using new repeat identification methodology",
        "baseline re-set using new repeat identification tool methodology",
    ]


def figures(plan: dict[str, Any], quarter: str) -> dict[str, list[str]]:
    return {
        m["number"]: [f["value"] for c in m["components"] for f in c["figures"] if f["quarter"] == quarter]
        for m in plan["measures"]
    }


def test_the_q1_board_was_shown_q1_alone_and_nothing_has_changed_since_either_publication(
    demo: tuple[GraphQLClient, str],
) -> None:
    client, plan_id = demo
    now = client.execute(FIGURES, {"id": plan_id})["plan"]
    q1, q2 = now["publications"]

    shown = client.execute(FIGURES, {"id": plan_id, "publication": _id(client, plan_id, "Q1")})["plan"]

    assert (q1["title"], q1["presentedOn"]) == ("Safer Stockton Partnership board, 25 September 2012", "2012-09-25")
    assert q2["presentedOn"] == "2012-11-27" and q1["digest"] and q2["digest"]
    assert figures(shown, "Q1") == figures(now, "Q1") and not any(figures(shown, "Q2").values())
    assert figures(now, "Q2")["5.1"] == ["995"]
    flags = [f["revisedAfterPublication"] for m in now["measures"] for c in m["components"] for f in c["figures"]]
    assert flags and not any(flags)


def _id(client: GraphQLClient, plan_id: str, quarter: str) -> str:
    plan = client.execute("query($id: ID!) { plan(id: $id) { publications { id quarter } } }", {"id": plan_id})
    found: str = next(p["id"] for p in plan["plan"]["publications"] if p["quarter"] == quarter)
    return found


def test_q3_is_open_with_a_due_date_and_every_return_outstanding(demo: tuple[GraphQLClient, str]) -> None:
    client, plan_id = demo

    q3 = client.execute(doc.RETURNS, {"planId": plan_id, "quarter": "Q3"})["returns"]

    assert (q3["dueOn"], q3["overdue"]) == ("2013-01-31", True)
    assert q3["counts"] == {"total": 17, "outstanding": 17, "submitted": 0, "approved": 0, "sentBack": 0, "reopened": 0}
    police = next(a for a in q3["agencies"] if a["agency"] == "Cleveland Police")
    assert police["counts"] == {"total": 7, "approved": 0}
    q2 = client.execute(doc.RETURNS, {"planId": plan_id, "quarter": "Q2"})["returns"]
    assert q2["counts"]["approved"] == 17 and not q2["overdue"]
    missing = {m["number"]: [c["key"] for c in m["components"] if c["entry"] == "MISSING"] for m in q2["measures"]}
    assert missing["3.2"] == ["stockton-town-centre", "yarm"] and missing["5.1"] == []
