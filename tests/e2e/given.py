"""Set-ups shared by the end-to-end tests, made through the API itself."""

from __future__ import annotations

import uuid
from typing import Any

from tests.e2e import documents as doc
from tests.e2e.live import GraphQLClient


def a_plan(client: GraphQLClient, partnership: str | None = None) -> str:
    data = client.execute(
        doc.CREATE_PLAN,
        {
            "input": {
                "partnership": partnership or f"Safer Stockton Partnership {uuid.uuid4().hex[:6]}",
                "title": "Community Safety Plan 2012-13",
                "year": "2012-13",
                "periodStart": "2012-04-01",
                "periodEnd": "2013-03-31",
            }
        },
    )
    plan_id: str = data["createPlan"]["plan"]["id"]
    client.execute(doc.ADD_THEME, {"input": {"planId": plan_id, "code": "5", "title": "Criminal damage targets"}})
    return plan_id


def criminal_damage(client: GraphQLClient, plan_id: str, number: str = "5.1") -> dict[str, Any]:
    """Measure 5.1 of the 2012-13 plan with its baseline of 2,472 crimes."""
    data = client.execute(
        doc.DEFINE_MEASURE,
        {
            "input": {
                "planId": plan_id,
                "themeCode": "5",
                "number": number,
                "title": "Reduce Criminal Damage",
                "direction": "REDUCE",
                "basis": "YTD_PRO_RATA",
                "unit": "crimes",
                "components": [{"key": "total", "label": "Criminal damage offences"}],
            }
        },
    )
    measure_id = data["defineMeasure"]["measure"]["id"]
    data = client.execute(
        doc.SET_BASELINE,
        {"input": {"measureId": measure_id, "component": "total", "value": "2472", "period": "2011/12"}},
    )
    measure: dict[str, Any] = data["setBaseline"]["measure"]
    return measure


def figure(measure: dict[str, Any], component: str, quarter: str) -> dict[str, Any]:
    c = next(c for c in measure["components"] if c["key"] == component)
    found: dict[str, Any] = next(f for f in c["figures"] if f["quarter"] == quarter)
    return found


def quarter(measure: dict[str, Any], q: str) -> dict[str, Any]:
    found: dict[str, Any] = next(r for r in measure["quarters"] if r["quarter"] == q)
    return found


def a_revised_measure(client: GraphQLClient, bob: GraphQLClient) -> tuple[str, str]:
    """A plan and its measure 5.1, Q1 submitted by `bob` and revised by `client`: six events. (plan id, measure id)"""
    plan_id = a_plan(client)
    mid = criminal_damage(client, plan_id)["id"]
    q1 = {"measureId": mid, "component": "total", "quarter": "Q1"}
    bob.execute(doc.SUBMIT_FIGURE, {"input": {**q1, "value": "492"}})
    client.execute(doc.REVISE_FIGURE, {"input": {**q1, "value": "495", "reason": "late recording"}})
    return plan_id, mid


def submit_total(client: GraphQLClient, measure_id: str, quarter: str, value: str) -> int:
    """Submits a figure of component "total"; the event's position."""
    figure = {"measureId": measure_id, "component": "total", "quarter": quarter, "value": value}
    data = client.execute(doc.SUBMIT_FIGURE, {"input": figure})
    position: int = data["submitFigure"]["position"]
    return position


def redefine_direction(client: GraphQLClient, measure_id: str, direction: str) -> int:
    """Flips every assessed quarter's status at one position."""
    data = client.execute(
        doc.REDEFINE_MEASURE,
        {
            "input": {
                "measureId": measure_id,
                "title": "Reduce Criminal Damage",
                "direction": direction,
                "basis": "YTD_PRO_RATA",
                "unit": "crimes",
                "components": [{"key": "total", "label": "Criminal damage offences"}],
                "reason": f"the board now wants to {direction.lower()} it",
            }
        },
    )
    position: int = data["redefineMeasure"]["position"]
    return position
