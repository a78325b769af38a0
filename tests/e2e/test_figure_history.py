"""A figure's own history over HTTP, paged like the audit trail, and the trail filtered by component and quarter."""

from __future__ import annotations

from typing import Any

from service.auth.tokens import create_token
from tests.e2e import documents as doc
from tests.e2e.given import a_plan, criminal_damage
from tests.e2e.live import GraphQLClient

FIGURE_HISTORY = """query($id: ID!, $asOf: DateTime, $first: Int, $after: String) {
  measure(id: $id, asOf: $asOf) { components { figures { quarter
    history(first: $first, after: $after) {
      edges { cursor node { action quarter component reason changes { field before after } } }
      pageInfo { hasNextPage endCursor }
    } } } } }"""
TRAIL = """query($filter: AuditFilter) { auditTrail(filter: $filter) { nodes { action component quarter } } }"""


def history(client: GraphQLClient, mid: str, quarter: str, **variables: Any) -> dict[str, Any]:
    measure = client.execute(FIGURE_HISTORY, {"id": mid, **variables})["measure"]
    found: dict[str, Any] = next(f for f in measure["components"][0]["figures"] if f["quarter"] == quarter)["history"]
    return found


def figure_in(mid: str, quarter: str, **given: str) -> dict[str, Any]:
    return {"input": {"measureId": mid, "component": "total", "quarter": quarter, **given}}


def a_measure_with_two_revised_quarters(client: GraphQLClient) -> tuple[str, str]:
    """5.1: Q1 submitted and revised twice, Q2 submitted and revised once, Q1's commentary written; and the
    moment Q1's first revision was recorded."""
    mid: str = criminal_damage(client, a_plan(client))["id"]
    client.execute(doc.SUBMIT_FIGURE, figure_in(mid, "Q1", value="492", reportedChange="-16.3"))
    client.execute(doc.SUBMIT_FIGURE, figure_in(mid, "Q2", value="995"))
    client.execute(doc.REVISE_FIGURE, figure_in(mid, "Q1", value="490", reason="recount"))
    client.execute(doc.UPDATE_COMMENTARY, {"input": {"measureId": mid, "quarter": "Q1", "text": "late crimes"}})
    client.execute(doc.REVISE_FIGURE, figure_in(mid, "Q2", reportedChange="-20", reason="as the report says"))
    client.execute(doc.REVISE_FIGURE, figure_in(mid, "Q1", reportedChange="-20.4", reason="report corrected"))
    revisions = client.execute(REVISIONS, {"id": mid})["auditTrail"]["nodes"]
    return mid, revisions[0]["recordedAt"]


REVISIONS = """query($id: ID!) { auditTrail(filter: {measureId: $id, action: "FigureRevised"}) {
  nodes { recordedAt } } }"""


def test_a_figure_s_history_lists_its_own_entries_oldest_first_in_pages(shared_client: GraphQLClient) -> None:
    mid, _ = a_measure_with_two_revised_quarters(shared_client)

    first = history(shared_client, mid, "Q1", first=2)
    rest = history(shared_client, mid, "Q1", first=2, after=first["pageInfo"]["endCursor"])

    entries = [e["node"] for e in first["edges"] + rest["edges"]]
    assert [(e["action"], e["component"], e["quarter"], e["reason"]) for e in entries] == [
        ("FigureSubmitted", "total", "Q1", None),
        ("FigureRevised", "total", "Q1", "recount"),
        ("FigureRevised", "total", "Q1", "report corrected"),
    ]
    assert entries[2]["changes"] == [{"field": "reportedChange", "before": "-16.3", "after": "-20.4"}]
    assert first["pageInfo"]["hasNextPage"] is True
    assert rest["pageInfo"] == {"hasNextPage": False, "endCursor": rest["edges"][-1]["cursor"]}
    assert [e["node"]["reason"] for e in history(shared_client, mid, "Q2")["edges"]] == [None, "as the report says"]


def test_a_figure_s_history_read_as_of_a_moment_stops_there(shared_client: GraphQLClient) -> None:
    mid, first_revision_at = a_measure_with_two_revised_quarters(shared_client)

    then = history(shared_client, mid, "Q1", asOf=first_revision_at)

    assert [e["node"]["reason"] for e in then["edges"]] == [None, "recount"]


def test_the_audit_trail_filters_by_component_and_quarter(shared_client: GraphQLClient) -> None:
    mid, _ = a_measure_with_two_revised_quarters(shared_client)

    q1 = shared_client.execute(TRAIL, {"filter": {"measureId": mid, "quarter": "Q1"}})["auditTrail"]["nodes"]
    total = shared_client.execute(TRAIL, {"filter": {"measureId": mid, "component": "total"}})["auditTrail"]["nodes"]

    assert [e["action"] for e in q1] == ["FigureSubmitted", "FigureRevised", "CommentaryUpdated", "FigureRevised"]
    assert [e["action"] for e in total] == ["BaselineSet", *(["FigureSubmitted"] * 2), *(["FigureRevised"] * 3)]
    assert {e["component"] for e in total} == {"total"}


def test_a_figure_s_history_is_for_auditors(shared_client: GraphQLClient, shared_database: str) -> None:
    mid, _ = a_measure_with_two_revised_quarters(shared_client)
    viewer = shared_client.as_(create_token(shared_database, "viewer@stockton.gov.uk", roles=["viewer"]))

    errors = viewer.errors(FIGURE_HISTORY, {"id": mid})

    assert errors and {e["extensions"]["code"] for e in errors} == {"FORBIDDEN"}
