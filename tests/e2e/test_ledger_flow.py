"""A plan from creation to an overridden status, through HTTP, as an officer would."""

from __future__ import annotations

from tests.e2e import documents as doc
from tests.e2e.given import a_plan, criminal_damage, figure, quarter
from tests.e2e.live import GraphQLClient


def test_an_officer_records_a_plan_and_reads_back_changes_and_statuses(client: GraphQLClient) -> None:
    plan_id = a_plan(client)
    measure = criminal_damage(client, plan_id)
    mid = measure["id"]
    assert measure["components"][0]["baseline"]["value"] == "2472"
    assert measure["status"] == "NO_DATA"

    q1 = client.execute(
        doc.SUBMIT_FIGURE,
        {
            "input": {
                "measureId": mid,
                "component": "total",
                "quarter": "Q1",
                "value": "492",
                "reportedChange": "-16.3",
                "commentary": "492 offences recorded in Q1",
            }
        },
    )["submitFigure"]
    f = figure(q1["measure"], "total", "Q1")
    # The payload already shows the state after the write.
    assert (f["value"], f["comparisonValue"], f["change"], f["status"]) == ("492", "618", "-20.4", "ON_TRACK")
    assert f["discrepancy"] is True and "-16.3" in f["discrepancyReason"]
    assert f["recordedBy"] == "alice@stockton.gov.uk"
    assert q1["position"] > 0

    q2 = client.execute(
        doc.SUBMIT_FIGURE,
        {"input": {"measureId": mid, "component": "total", "quarter": "Q2", "value": "990", "reportedChange": "-20"}},
    )["submitFigure"]
    revised = client.execute(
        doc.REVISE_FIGURE,
        {
            "input": {
                "measureId": mid,
                "component": "total",
                "quarter": "Q2",
                "value": "995",
                "reportedChange": "-20",
                "reason": "late crimes recorded",
                "expectedVersion": q2["version"],
            }
        },
    )["reviseFigure"]
    f2 = figure(revised["measure"], "total", "Q2")
    assert (f2["value"], f2["change"], f2["revision"], f2["reason"]) == ("995", "-19.5", 2, "late crimes recorded")
    assert f2["discrepancy"] is False  # -19.498 written as "20% reduction" is rounding
    assert revised["measure"]["status"] == "ON_TRACK"

    overridden = client.execute(
        doc.OVERRIDE_STATUS,
        {"input": {"measureId": mid, "quarter": "Q2", "status": "AT_RISK", "reason": "Q3 trend worsening"}},
    )["overrideStatus"]["measure"]
    q2_result = quarter(overridden, "Q2")
    assert (q2_result["status"], q2_result["computedStatus"]) == ("AT_RISK", "ON_TRACK")
    assert q2_result["override"] == {
        "status": "AT_RISK",
        "reason": "Q3 trend worsening",
        "recordedBy": "alice@stockton.gov.uk",
    }
    assert overridden["status"] == "AT_RISK"

    read_back = client.execute(doc.DASHBOARD, {"id": plan_id})["plan"]
    assert [m["number"] for m in read_back["measures"]] == ["5.1"]
    assert read_back["measures"][0] == overridden
    assert read_back["themes"] == [
        {"code": "5", "title": "Criminal damage targets", "measures": [{"id": mid, "number": "5.1"}]}
    ]
