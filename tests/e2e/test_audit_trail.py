"""The audit trail over HTTP: every event with its before and after, filtered, and paged by cursor."""

from __future__ import annotations

import time
from typing import Any

import pytest

from projections.ledger_store.verify import parse_digest, verify
from tests.e2e import documents as doc
from tests.e2e.given import a_revised_measure
from tests.e2e.live import GraphQLClient

TRAIL = """query($filter: AuditFilter, $first: Int, $after: String) {
  auditTrail(filter: $filter, first: $first, after: $after) {
    edges { cursor node { position cursor recordedAt actor action planId measureId measureNumber component quarter
                          field before after reason } }
    pageInfo { hasNextPage endCursor }
    nodes { position }
  }
}"""
HISTORY = """query($id: ID!) { measure(id: $id) { history { position cursor recordedAt actor action planId measureId
  measureNumber component quarter field before after reason } } }"""
DIGEST = "{ auditDigest { position hash } }"


def trail(client: GraphQLClient, **variables: Any) -> dict[str, Any]:
    page: dict[str, Any] = client.execute(TRAIL, variables)["auditTrail"]
    return page


def entries(client: GraphQLClient, **variables: Any) -> list[dict[str, Any]]:
    return [edge["node"] for edge in trail(client, **variables)["edges"]]


def figure_input(mid: str, quarter: str, value: str, **extra: str) -> dict[str, Any]:
    return {"input": {"measureId": mid, "component": "total", "quarter": quarter, "value": value, **extra}}


def test_the_trail_says_who_changed_what_from_what_to_what_and_why(client: GraphQLClient, bob: GraphQLClient) -> None:
    plan_id, mid = a_revised_measure(client, bob)

    page = trail(client)

    found = [edge["node"] for edge in page["edges"]]
    assert [(e["action"], e["actor"], e["field"], e["before"], e["after"], e["reason"]) for e in found] == [
        ("PlanCreated", "alice@stockton.gov.uk", "plan", None, "Community Safety Plan 2012-13", None),
        ("ThemeAdded", "alice@stockton.gov.uk", "theme", None, "5 Criminal damage targets", None),
        ("MeasureDefined", "alice@stockton.gov.uk", "definition", None, "Reduce Criminal Damage", None),
        ("BaselineSet", "alice@stockton.gov.uk", "baseline", None, "2472", None),
        ("FigureSubmitted", "bob@police.example", "figure", None, "492", None),
        ("FigureRevised", "alice@stockton.gov.uk", "figure", "492", "495", "late recording"),
    ]
    assert found[-1] | {"position": 0, "cursor": "", "recordedAt": ""} == {
        "position": 0,
        "cursor": "",
        "recordedAt": "",
        "actor": "alice@stockton.gov.uk",
        "action": "FigureRevised",
        "planId": plan_id,
        "measureId": mid,
        "measureNumber": "5.1",
        "component": "total",
        "quarter": "Q1",
        "field": "figure",
        "before": "492",
        "after": "495",
        "reason": "late recording",
    }
    positions = [e["position"] for e in found]
    assert positions == sorted(positions)
    assert [edge["cursor"] for edge in page["edges"]] == [e["cursor"] for e in found]
    assert page["nodes"] == [{"position": p} for p in positions]
    assert page["pageInfo"] == {"hasNextPage": False, "endCursor": found[-1]["cursor"]}
    # A measure's history is the same entries, in the same shape.
    assert client.execute(HISTORY, {"id": mid})["measure"]["history"] == found[2:]


def test_the_trail_filters_by_plan_measure_actor_action_and_recorded_time(
    client: GraphQLClient, bob: GraphQLClient
) -> None:
    plan_id, mid = a_revised_measure(client, bob)
    other_plan, other = a_revised_measure(client, bob)
    everything = entries(client)
    middle = everything[len(everything) // 2]["recordedAt"]

    def actions(**f: Any) -> list[tuple[str, str | None]]:
        return [(e["action"], e["measureId"]) for e in entries(client, filter=f)]

    assert [e["planId"] for e in entries(client, filter={"planId": plan_id})] == [plan_id] * 6
    assert actions(measureId=other) == [
        ("MeasureDefined", other),
        ("BaselineSet", other),
        ("FigureSubmitted", other),
        ("FigureRevised", other),
    ]
    assert actions(actor="bob@police.example") == [("FigureSubmitted", mid), ("FigureSubmitted", other)]
    assert actions(action="FigureRevised", planId=other_plan) == [("FigureRevised", other)]
    assert entries(client, filter={"recordedFrom": middle}) == everything[len(everything) // 2 :]
    assert entries(client, filter={"recordedTo": middle}) == everything[: len(everything) // 2]
    assert entries(client, filter={"order": "NEWEST_FIRST"}) == everything[::-1]
    assert entries(client, filter={"actor": "nobody@example.org"}) == []


@pytest.mark.parametrize("order", ["OLDEST_FIRST", "NEWEST_FIRST"])
def test_paging_never_repeats_or_skips_an_entry_while_events_are_recorded(
    client: GraphQLClient, bob: GraphQLClient, order: str
) -> None:
    a_revised_measure(client, bob)
    _, mid = a_revised_measure(client, bob)
    at_start = entries(client, filter={"order": order})

    seen: list[dict[str, Any]] = []
    after = None
    quarters = iter(["Q2", "Q3", "Q4"])
    while True:
        page = trail(client, filter={"order": order}, first=4, after=after)
        seen.extend(edge["node"] for edge in page["edges"])
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
        # Others keep writing between page fetches.
        if (quarter := next(quarters, None)) is not None:
            client.execute(doc.SUBMIT_FIGURE, figure_input(mid, quarter, "900"))

    positions = [e["position"] for e in seen]
    assert len(positions) == len(set(positions))
    if order == "OLDEST_FIRST":
        # Everything, the new entries at the end, each once.
        assert seen == entries(client)
    else:
        # Everything there was when paging began; newer entries are on earlier pages.
        assert seen == at_start
    assert positions == sorted(positions, reverse=order == "NEWEST_FIRST")


def test_a_page_beyond_the_limit_or_a_bad_filter_is_refused_with_the_field_named(client: GraphQLClient) -> None:
    def error(**variables: Any) -> tuple[str, str | None, str]:
        found = client.errors(TRAIL, variables)[0]
        return found["extensions"]["code"], found["extensions"].get("field"), found["message"]

    code, field, message = error(first=501)
    assert (code, field) == ("LIMIT_EXCEEDED", "first") and "500" in message
    assert error(first=-1)[:2] == ("VALIDATION", "first")
    assert error(after="not a cursor")[:2] == ("VALIDATION", "after")
    assert error(filter={"action": "FigureRevise"})[:2] == ("VALIDATION", "action")
    assert error(filter={"planId": "5.1"})[:2] == ("VALIDATION", "planId")
    assert error(filter={"recordedFrom": "2012-09-25T09:00:00"})[:2] == ("VALIDATION", "recordedFrom")
    assert error(filter={"order": "SIDEWAYS"})[0] == "VALIDATION"
    assert trail(client, first=500)["edges"] == []


def test_the_published_digest_is_the_chain_head_and_verifies_against_the_store(
    client: GraphQLClient, bob: GraphQLClient, database_url: str, event_count: Any
) -> None:
    a_revised_measure(client, bob)
    last = entries(client, filter={"order": "NEWEST_FIRST"}, first=1)[0]["position"]
    deadline = time.monotonic() + 20
    while (digest := client.execute(DIGEST)["auditDigest"])["position"] < last and time.monotonic() < deadline:
        time.sleep(0.05)  # the leader links events within moments of their being stored

    verdict = verify(database_url, parse_digest(f"{digest['position']}:{digest['hash']}"))

    assert digest["position"] == last == event_count()
    assert verdict.ok and verdict.digest_ok, verdict.report()
