"""The real 2012-13 plan through the API: the figures checked by hand in docs/rules.md, read over HTTP.

The demo file is imported as `measure-ledger import` would, into a fresh
database behind a live server; once the read model has caught up, the whole
plan is read with one GraphQL query, as a dashboard would, and every test
checks that one answer.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
import yaml

from service.auth.tokens import create_token
from tests.conftest import DatabaseFactory
from tests.e2e.demo import DEMO, HAND_CHECKED, serving_demo
from tests.e2e.live import GraphQLClient

D = Decimal
PLAN = """query($id: ID!) {
  plan(id: $id) {
    measures {
      number
      components {
        key
        baseline { discrepancy discrepancyReason }
        figures { quarter value numerator denominator unavailableReason measured change discrepancy }
      }
      quarters { quarter status computedStatus override { status reason } }
    }
  }
}"""
NUMBERS = [
    "1.1", "1.2", "1.3",
    "2.1", "2.2", "2.3",
    "3.1", "3.2", "3.3", "3.4",
    "4.1", "4.2", "4.3",
    "5.1", "5.2",
    "6.1", "6.2",
]  # fmt: skip

Measure = dict[str, Any]


@pytest.fixture(scope="module")
def measures(new_database: DatabaseFactory) -> Iterator[dict[str, Measure]]:
    """The plan's measures as the API gives them, by number, in the API's order."""
    database_url = new_database()
    with serving_demo(database_url) as (server, plan_id):
        client = GraphQLClient(server.url, create_token(database_url, "auditor@stockton.gov.uk"))
        plan = client.execute(PLAN, {"id": str(plan_id)})["plan"]
        yield {m["number"]: m for m in plan["measures"]}


def figure(measures: dict[str, Measure], number: str, component: str, quarter: str) -> dict[str, Any]:
    c = next(c for c in measures[number]["components"] if c["key"] == component)
    found: dict[str, Any] = next(f for f in c["figures"] if f["quarter"] == quarter)
    return found


def quarter(measures: dict[str, Measure], number: str, q: str) -> dict[str, Any]:
    found: dict[str, Any] = next(r for r in measures[number]["quarters"] if r["quarter"] == q)
    return found


def the_file() -> list[dict[str, Any]]:
    """The demo file's measures, in file order."""
    document = yaml.safe_load(DEMO.read_text(encoding="utf-8"))
    return [m for theme in document["themes"] for m in theme.get("measures", [])]


# -- docs/rules.md, "The 2012-13 plan, checked by hand" -------------------------------


@pytest.mark.parametrize(
    ("number", "component", "q", "change"), HAND_CHECKED, ids=[f"{n} {c} {q}" for n, c, q, _ in HAND_CHECKED]
)
def test_the_api_gives_the_change_worked_out_by_hand(
    measures: dict[str, Measure], number: str, component: str, q: str, change: str
) -> None:
    assert figure(measures, number, component, q)["change"] == change


@pytest.mark.parametrize(("q", "rate"), [("Q1", D("61.9")), ("Q2", D("46.2"))])
def test_the_rates_of_3_4_are_its_fractions_worked_out_by_hand(
    measures: dict[str, Measure], q: str, rate: Decimal
) -> None:
    found = figure(measures, "3.4", "harbour-take-up", q)

    # `measured` is exact (13/21 runs to 28 digits); the report shows one decimal place.
    assert D(found["measured"]).quantize(D("0.1"), rounding=ROUND_HALF_UP) == rate


def test_exactly_the_discrepancies_listed_in_the_rules_are_flagged_and_no_others(
    measures: dict[str, Measure],
) -> None:
    flagged: set[tuple[str, str, str]] = set()
    for number, m in measures.items():
        for c in m["components"]:
            flagged |= {(number, c["key"], f["quarter"]) for f in c["figures"] if f["discrepancy"]}
            if c["baseline"] and c["baseline"]["discrepancy"]:
                flagged.add((number, c["key"], "baseline"))

    assert flagged == {
        ("1.3", "police", "Q1"),  # computed -17.7%, reported -28.1%
        ("5.1", "criminal-damage", "Q1"),  # -20.4% vs -16.3%
        ("2.1", "s27-notices", "Q2"),  # +20.9% vs +19.7%
        ("3.1", "violence", "Q1"),  # -52.0% vs -56%
        ("4.2", "planned-exits", "Q1"),  # 38 of 76 is 50.0%, reported 56%
        ("3.4", "harbour-take-up", "baseline"),  # 36 of 46 is 78.3%, reported 70%
        ("6.1", "ppos", "Q1"),  # -52.9% vs -7.5%
        ("6.1", "ppos", "Q2"),  # -45.9% vs 0%
    }


@pytest.mark.parametrize(
    ("number", "component", "q"),
    [("6.1", "drrs", "Q1"), ("5.1", "criminal-damage", "Q2"), ("5.2", "repeat-victims", "Q2")],
)
def test_a_report_that_only_rounds_is_not_a_discrepancy(
    measures: dict[str, Measure], number: str, component: str, q: str
) -> None:
    assert figure(measures, number, component, q)["discrepancy"] is False


# -- no data, no target ---------------------------------------------------------------

NOT_COMPUTED = [
    ("1.1", "Q1", "NOT_ASSESSED"),  # MONITOR: no target
    ("1.1", "Q2", "NOT_ASSESSED"),
    ("1.2", "Q1", "NO_DATA"),  # marked unavailable: no survey this year
    ("1.2", "Q2", "NO_DATA"),  # a progress note, no figure
    ("2.2", "Q1", "NOT_ASSESSED"),  # figures, but no baseline to compare with
    ("2.2", "Q2", "NOT_ASSESSED"),
    ("2.3", "Q1", "NOT_ASSESSED"),
    ("2.3", "Q2", "NOT_ASSESSED"),
    ("3.2", "Q2", "NO_DATA"),  # the cell is truncated: no figure for either ward
    ("3.3", "Q1", "NOT_ASSESSED"),  # a rate with no baseline
    ("3.3", "Q2", "NOT_ASSESSED"),
    ("4.1", "Q1", "NO_DATA"),  # both quarters marked unavailable
    ("4.1", "Q2", "NO_DATA"),
    ("4.2", "Q2", "NO_DATA"),
    ("5.2", "Q1", "NO_DATA"),  # an empty cell
]


@pytest.mark.parametrize(("number", "q", "status"), NOT_COMPUTED, ids=[f"{n} {q}" for n, q, _ in NOT_COMPUTED])
def test_a_quarter_without_data_or_without_a_target_is_not_given_a_verdict(
    measures: dict[str, Measure], number: str, q: str, status: str
) -> None:
    assert quarter(measures, number, q)["computedStatus"] == status


def test_figures_with_nothing_to_compare_with_have_no_change(measures: dict[str, Measure]) -> None:
    for number in ("1.1", "2.2", "2.3", "3.3", "4.1"):
        for c in measures[number]["components"]:
            assert [f["change"] for f in c["figures"]] == [None] * len(c["figures"]), (number, c["key"])


def test_the_empty_third_and_fourth_quarters_have_no_data(measures: dict[str, Measure]) -> None:
    for number, m in measures.items():
        assert [(r["quarter"], r["status"]) for r in m["quarters"][2:]] == [("Q3", "NO_DATA"), ("Q4", "NO_DATA")], (
            number
        )


# -- the whole plan as the file has it ------------------------------------------------


def test_all_seventeen_measures_come_in_order_with_their_q1_and_q2_figures_as_the_file_has_them(
    measures: dict[str, Measure],
) -> None:
    def number(raw: object) -> Decimal | None:
        return None if raw is None else D(str(raw))

    def as_filed(entry: dict[str, Any]) -> tuple[object, ...]:
        latest = ([entry] + entry.get("revisions", []))[-1]
        amounts = tuple(number(latest.get(k)) for k in ("value", "numerator", "denominator"))
        return (*amounts, latest.get("unavailable"))

    def as_served(f: dict[str, Any]) -> tuple[object, ...]:
        amounts = tuple(number(f[k]) for k in ("value", "numerator", "denominator"))
        return (*amounts, f["unavailableReason"])

    assert list(measures) == NUMBERS
    for filed in the_file():
        definitions = [filed, *filed.get("redefinitions", [])]
        expected = {
            (c["key"], q): as_filed(entry)
            for d in definitions
            for c in d["components"]
            for q, entry in c.get("figures", {}).items()
        }
        served = {
            (c["key"], f["quarter"]): as_served(f)
            for c in measures[filed["number"]]["components"]
            for f in c["figures"]
        }
        assert served == expected, filed["number"]


def test_a_published_status_that_differs_from_the_computed_one_is_an_override_with_its_reason(
    measures: dict[str, Measure],
) -> None:
    overridden: list[str] = []
    for filed in the_file():
        published = filed.get("status", {})
        for row in measures[filed["number"]]["quarters"]:
            entry = published.get(row["quarter"])
            if entry is None or entry["status"] == row["computedStatus"]:
                assert row["override"] is None and row["status"] == row["computedStatus"], filed["number"]
                continue
            overridden.append(f"{filed['number']} {row['quarter']}")
            assert row["status"] == entry["status"]
            assert row["override"] == {
                "status": entry["status"],
                "reason": f"{entry['reason']} ({entry['status']}); computed {row['computedStatus']}",
            }

    assert overridden == ["1.1 Q2", "1.2 Q2", "2.2 Q2", "3.3 Q2", "3.4 Q2", "6.1 Q2"]
    six_one = quarter(measures, "6.1", "Q2")
    assert (six_one["status"], six_one["computedStatus"]) == ("AT_RISK", "OFF_TRACK")
    assert (
        six_one["override"]["reason"] == "Published status in the 2012-13 report: <u></u> (AT_RISK); computed OFF_TRACK"
    )
