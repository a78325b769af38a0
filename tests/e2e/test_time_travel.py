"""Time travel: `asOf` shows what the ledger showed at a moment, before a later reset or revision."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tests.e2e import documents as doc
from tests.e2e.given import a_plan, criminal_damage, figure
from tests.e2e.live import GraphQLClient

MEASURE_AS_OF = "query($id: ID!, $asOf: DateTime) { measure(id: $id, asOf: $asOf) { ...MeasureFields } }" + (
    doc.MEASURE_FIELDS
)
PLAN_AS_OF = """query($id: ID!, $asOf: DateTime) {
  plan(id: $id, asOf: $asOf) { id version measures { number status components { baseline { value } } } }
}"""
HISTORY = "query($id: ID!) { measure(id: $id) { history { position action recordedAt } } }"
TRAIL = "{ auditTrail(first: 500) { nodes { action planId recordedAt } } }"


def change(mid: str, **fields: str) -> dict[str, Any]:
    return {"input": {"measureId": mid, "component": "total", **fields}}


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_as_of_shows_what_the_ledger_showed_before_a_baseline_reset_and_a_revision(client: GraphQLClient) -> None:
    a_plan(client)  # an earlier plan, so the ledger is not empty before ours
    plan_id = a_plan(client)
    measure = criminal_damage(client, plan_id)
    mid = measure["id"]
    shown = [measure]  # what each write's payload showed, straight after it
    shown.append(client.execute(doc.SUBMIT_FIGURE, change(mid, quarter="Q2", value="995"))["submitFigure"]["measure"])
    shown.append(
        client.execute(
            doc.RESET_BASELINE, change(mid, value="1900", period="2011/12", reason="new repeat methodology")
        )["resetBaseline"]["measure"]
    )
    shown.append(
        client.execute(doc.REVISE_FIGURE, change(mid, quarter="Q2", value="1001", reason="late crimes recorded"))[
            "reviseFigure"
        ]["measure"]
    )
    history = client.execute(HISTORY, {"id": mid})["measure"]["history"]
    assert [h["action"] for h in history] == [
        "MeasureDefined",
        "BaselineSet",
        "FigureSubmitted",
        "BaselineReset",
        "FigureRevised",
    ]
    written = [moment(h["recordedAt"]) for h in history[1:]]  # when each shown state began
    trail = client.execute(TRAIL)["auditTrail"]["nodes"]
    ours = next(i for i, e in enumerate(trail) if e["planId"] == plan_id)
    assert trail[ours]["action"] == "PlanCreated" and ours > 0
    before_plan = (
        moment(trail[ours - 1]["recordedAt"])
        + (moment(trail[ours]["recordedAt"]) - moment(trail[ours - 1]["recordedAt"])) / 2
    )

    def as_of(at: datetime) -> dict[str, Any] | None:
        found: dict[str, Any] | None = client.execute(MEASURE_AS_OF, {"id": mid, "asOf": at.isoformat()})["measure"]
        return found

    # Before the reset: the old baseline, change and status.
    before_reset = as_of(written[1] + (written[2] - written[1]) / 2)
    assert before_reset is not None
    q2 = figure(before_reset, "total", "Q2")
    assert before_reset["components"][0]["baseline"]["value"] == "2472"
    assert (q2["value"], q2["comparisonValue"], q2["change"], q2["status"]) == ("995", "1236", "-19.5", "ON_TRACK")
    assert before_reset["status"] == "ON_TRACK"

    # Now: the new baseline, the revised figure, and what they make of it.
    now = client.execute(doc.MEASURE, {"id": mid})["measure"]
    q2 = figure(now, "total", "Q2")
    assert now["components"][0]["baseline"]["value"] == "1900"
    assert [b["value"] for b in now["components"][0]["baselineHistory"]] == ["2472", "1900"]
    assert (q2["value"], q2["comparisonValue"], q2["change"], q2["status"]) == ("1001", "950", "5.4", "OFF_TRACK")
    assert now["status"] == "OFF_TRACK"

    # At each write, and between writes, exactly what was shown then.
    for i, start in enumerate(written):
        end = written[i + 1] if i + 1 < len(written) else start + timedelta(seconds=1)
        assert as_of(start) == shown[i], f"at write {i}"
        assert as_of(start + (end - start) / 2) == shown[i], f"after write {i}"
    between = as_of(written[2] + (written[3] - written[2]) / 2)
    assert between is not None
    assert figure(between, "total", "Q2")["status"] == "AT_RISK"  # 995 against the new 950: +4.7%

    # The plan, too, as it was; and nothing at all before it existed, without an error.
    plan = client.execute(PLAN_AS_OF, {"id": plan_id, "asOf": (written[1] + timedelta(microseconds=1)).isoformat()})
    assert plan["plan"]["measures"] == [
        {"number": "5.1", "status": "ON_TRACK", "components": [{"baseline": {"value": "2472"}}]}
    ]
    earlier = before_plan.isoformat()  # after the earlier plan's events, before ours
    assert client.execute(PLAN_AS_OF, {"id": plan_id, "asOf": earlier}) == {"plan": None}
    assert client.execute(MEASURE_AS_OF, {"id": mid, "asOf": earlier}) == {"measure": None}
    assert client.execute(MEASURE_AS_OF, {"id": mid, "asOf": "1999-01-01T00:00:00Z"}) == {"measure": None}


def test_as_of_without_a_time_zone_is_a_validation_error(client: GraphQLClient) -> None:
    measure = criminal_damage(client, a_plan(client))

    errors = client.errors(MEASURE_AS_OF, {"id": measure["id"], "asOf": "2012-09-25T09:00:00"})

    assert errors[0]["extensions"]["code"] == "VALIDATION"
    assert errors[0]["extensions"]["field"] == "asOf"
