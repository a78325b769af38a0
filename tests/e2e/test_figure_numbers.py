"""What a figure says of its numbers over HTTP: a rate given as a fraction as a rate, a target's progress, the
baseline it was compared with, and every number written one way."""

from __future__ import annotations

from typing import Any

from tests.e2e import documents as doc
from tests.e2e.given import a_plan
from tests.e2e.live import GraphQLClient

NUMBERS = """query($id: ID!, $asOf: DateTime) { measure(id: $id, asOf: $asOf) { components {
  baseline { value numerator denominator rate }
  figures { quarter value numerator denominator rate measured comparisonValue change changeExact progress
            rule discrepancyReason baseline { value rate isReset reason } } } } }"""

SUBMITTED_AT = """query($id: ID!) {
  auditTrail(filter: {measureId: $id, action: "FigureSubmitted"}) { nodes { recordedAt } } }"""


def a_measure(client: GraphQLClient, number: str, direction: str, basis: str, **baseline: str) -> str:
    data = client.execute(
        doc.DEFINE_MEASURE,
        {
            "input": {
                "planId": a_plan(client),
                "themeCode": "5",
                "number": number,
                "title": f"Measure {number}",
                "direction": direction,
                "basis": basis,
                "components": [{"key": "total", "label": "Total"}],
            }
        },
    )
    mid: str = data["defineMeasure"]["measure"]["id"]
    client.execute(doc.SET_BASELINE, {"input": {"measureId": mid, "component": "total", **baseline}})
    return mid


def submit(client: GraphQLClient, mid: str, quarter: str, **given: str) -> None:
    client.execute(doc.SUBMIT_FIGURE, {"input": {"measureId": mid, "component": "total", "quarter": quarter, **given}})


def numbers(client: GraphQLClient, mid: str, asOf: str | None = None) -> dict[str, Any]:
    component: dict[str, Any] = client.execute(NUMBERS, {"id": mid, "asOf": asOf})["measure"]["components"][0]
    return component


def test_a_rate_given_as_a_fraction_is_served_as_a_rate_on_the_figure_and_the_baseline(
    shared_client: GraphQLClient,
) -> None:
    mid = a_measure(shared_client, "3.4", "INCREASE", "RATE", numerator="36", denominator="46", value="70")
    submit(shared_client, mid, "Q1", numerator="13", denominator="21")
    submit(shared_client, mid, "Q2", numerator="3", denominator="4")

    component = numbers(shared_client, mid)

    assert component["baseline"] == {
        "value": "70",
        "numerator": "36",
        "denominator": "46",
        "rate": "78.26086956521739130434782609",
    }
    q1, q2 = component["figures"]
    assert (q1["value"], q1["rate"], q1["measured"]) == (None, "61.9047619047619047619047619", q1["rate"])
    assert q1["comparisonValue"] == component["baseline"]["rate"] and q1["change"] == "-16.4"
    # 3 of 4 is 75, written as every number is: never 75.00.
    assert (q2["rate"], q2["measured"], q2["change"]) == ("75", "75", "-3.3")
    assert q1["progress"] is None and q2["progress"] is None


def test_a_count_has_no_rate_and_every_computed_number_is_written_one_way(shared_client: GraphQLClient) -> None:
    mid = a_measure(shared_client, "3.1", "MAINTAIN", "YTD_PRO_RATA", value="100")
    submit(shared_client, mid, "Q1", value="12", reportedChange="-56")
    submit(shared_client, mid, "Q2", value="50.0")

    q1, q2 = numbers(shared_client, mid)["figures"]

    assert (q1["value"], q1["rate"], q1["comparisonValue"], q1["change"], q1["changeExact"]) == (
        "12",
        None,
        "25",
        "-52",
        "-52",
    )
    assert q1["rule"] == "MAINTAIN: change -52 <= 0"
    assert q1["discrepancyReason"] == "reported change -56 but computed -52"
    assert (q2["value"], q2["comparisonValue"], q2["change"]) == ("50", "50", "0")


def test_a_target_count_figure_says_how_far_it_is_towards_the_year_s_target(shared_client: GraphQLClient) -> None:
    mid = a_measure(shared_client, "6.2", "INCREASE", "TARGET_COUNT", value="4")
    submit(shared_client, mid, "Q1", value="1")
    submit(shared_client, mid, "Q2", value="2")
    submit(shared_client, mid, "Q3", value="5")

    q1, q2, q3 = numbers(shared_client, mid)["figures"]

    assert [f["progress"] for f in (q1, q2, q3)] == ["25", "50", "125"]
    assert (q2["comparisonValue"], q2["change"], q2["rule"]) == ("2", "0", "TARGET_COUNT: 2 >= 2")
    assert q1["rule"] == "TARGET_COUNT: 1 >= 1" and q3["rule"] == "TARGET_COUNT: 5 >= 3"


def test_a_figure_names_the_baseline_it_was_compared_with_before_and_after_a_reset(
    shared_client: GraphQLClient,
) -> None:
    mid = a_measure(shared_client, "4.3", "REDUCE", "ROLLING_12_MONTHS", value="60")
    submit(shared_client, mid, "Q1", value="47")
    before_reset = shared_client.execute(SUBMITTED_AT, {"id": mid})["auditTrail"]["nodes"][0]["recordedAt"]
    shared_client.execute(
        doc.RESET_BASELINE,
        {"input": {"measureId": mid, "component": "total", "value": "52", "reason": "new methodology"}},
    )

    now = numbers(shared_client, mid)["figures"][0]
    then = numbers(shared_client, mid, asOf=before_reset)["figures"][0]

    assert now["baseline"] == {"value": "52", "rate": None, "isReset": True, "reason": "new methodology"}
    assert (now["comparisonValue"], now["change"]) == ("52", "-9.6")
    assert then["baseline"] == {"value": "60", "rate": None, "isReset": False, "reason": None}
    assert (then["comparisonValue"], then["change"]) == ("60", "-21.7")
