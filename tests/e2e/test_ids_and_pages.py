"""What normalized client caches and paging clients rely on, over HTTP: every object a cache keeps has an `id`
that stays the same across reads and writes and is never shared, and every list that grows without bound
pages by cursor with a complete `pageInfo`."""

from __future__ import annotations

from typing import Any

from service.auth.tokens import create_token
from tests.e2e import documents as doc
from tests.e2e.given import a_plan, a_revised_measure, criminal_damage
from tests.e2e.live import GraphQLClient

OBJECTS = """query($id: ID!) { plan(id: $id) {
  id themes { id code } collections { id quarter }
  measures { id
    components { id key baseline { id } baselineHistory { id } figures { id quarter revision value } }
    quarters { id quarter components { figure { id } } }
    returns { id quarter }
    history { id position }
  }
} }"""
PLANS = """query($partnership: String, $first: Int, $after: String) {
  plansConnection(partnership: $partnership, first: $first, after: $after) {
    edges { cursor node { id title } }
    nodes { id }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}"""
HISTORY = """query($id: ID!, $first: Int, $after: String) { measure(id: $id) {
  history { id position cursor action before after }
  historyConnection(first: $first, after: $after) {
    edges { cursor node { id position cursor action before after } }
    nodes { id }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
} }"""


def ids_in(value: Any) -> list[str]:
    """Every `id` anywhere in a response, in document order."""
    if isinstance(value, dict):
        return [*([value["id"]] if "id" in value else []), *(i for v in value.values() for i in ids_in(v))]
    if isinstance(value, list):
        return [i for v in value for i in ids_in(v)]
    return []


def test_every_object_a_cache_keeps_has_an_id_that_a_revision_does_not_change(
    client: GraphQLClient, bob: GraphQLClient
) -> None:
    plan_id, mid = a_revised_measure(client, bob)
    client.execute(doc.OPEN_COLLECTION, {"input": {"planId": plan_id, "quarter": "Q1", "dueOn": "2012-07-31"}})
    before = client.execute(OBJECTS, {"id": plan_id})["plan"]

    q1 = {"measureId": mid, "component": "total", "quarter": "Q1"}
    client.execute(doc.REVISE_FIGURE, {"input": {**q1, "value": "497", "reason": "audited"}})
    after = client.execute(OBJECTS, {"id": plan_id})["plan"]

    figure = after["measures"][0]["components"][0]["figures"][0]
    assert (figure["revision"], figure["value"]) == (3, "497")
    assert figure["id"] == before["measures"][0]["components"][0]["figures"][0]["id"]
    assert after["measures"][0]["quarters"][0]["components"][0]["figure"]["id"] == figure["id"]
    history = [e["id"] for e in after["measures"][0]["history"]]
    assert history[: len(before["measures"][0]["history"])] == [e["id"] for e in before["measures"][0]["history"]]
    # Every other object kept its id; the new history entry is the only new one.
    assert set(ids_in(after)) == set(ids_in(before)) | {history[-1]}
    # No two objects share an id, whatever their types (Relay keys its store by id alone): what is listed twice
    # is one object, the figure under its component and its quarter, the baseline in force and in the history.
    listed = ids_in(after)
    baseline = after["measures"][0]["components"][0]["baseline"]["id"]
    assert sorted({i for i in listed if listed.count(i) > 1}) == sorted([baseline, figure["id"]])


def test_an_object_read_as_of_a_moment_has_its_id_of_now(client: GraphQLClient, bob: GraphQLClient) -> None:
    plan_id, mid = a_revised_measure(client, bob)
    query = """query($id: ID!, $asOf: DateTime) { measure(id: $id, asOf: $asOf) {
      id components { id figures { id revision } } } }"""
    entries = client.execute(
        "query($id: ID!) { auditTrail(filter: {measureId: $id}) { nodes { id recordedAt action } } }", {"id": mid}
    )["auditTrail"]["nodes"]
    submitted = next(e["recordedAt"] for e in entries if e["action"] == "FigureSubmitted")

    now = client.execute(query, {"id": mid})["measure"]
    then = client.execute(query, {"id": mid, "asOf": submitted})["measure"]

    assert then["components"][0]["figures"][0]["revision"] == 1
    assert now["components"][0]["figures"][0]["revision"] == 2
    assert ids_in(then) == ids_in(now)
    # Its history, paged, stops at that moment.
    paged = """query($id: ID!, $asOf: DateTime) { measure(id: $id, asOf: $asOf) {
      historyConnection { nodes { id action } pageInfo { hasNextPage } } } }"""
    history = client.execute(paged, {"id": mid, "asOf": submitted})["measure"]["historyConnection"]
    assert history["nodes"][-1]["action"] == "FigureSubmitted" and not history["pageInfo"]["hasNextPage"]
    assert [n["id"] for n in history["nodes"]] == [f"Revision:{e['id'].split(':')[1]}" for e in entries[:-1]]


def test_plans_page_in_the_order_they_were_created_and_a_new_one_comes_after_the_last_page(
    client: GraphQLClient, database_url: str
) -> None:
    made = [a_plan(client, partnership=f"Partnership {n}") for n in range(5)]

    first = client.execute(PLANS, {"first": 2})["plansConnection"]
    assert [e["node"]["id"] for e in first["edges"]] == made[:2] == [n["id"] for n in first["nodes"]]
    assert first["pageInfo"] == {
        "hasNextPage": True,
        "hasPreviousPage": False,
        "startCursor": first["edges"][0]["cursor"],
        "endCursor": first["edges"][1]["cursor"],
    }
    second = client.execute(PLANS, {"first": 3, "after": first["pageInfo"]["endCursor"]})["plansConnection"]
    assert [n["id"] for n in second["nodes"]] == made[2:]
    assert second["pageInfo"]["hasNextPage"] is False and second["pageInfo"]["hasPreviousPage"] is True

    # A plan made after the last page was read is on the next page, not lost between pages.
    newer = client.execute(
        doc.CREATE_PLAN,
        {
            "input": {
                "partnership": "Partnership 0",
                "title": "Community Safety Plan 2013-14",
                "year": "2013-14",
                "periodStart": "2013-04-01",
                "periodEnd": "2014-03-31",
            }
        },
    )["createPlan"]["plan"]["id"]
    end = second["pageInfo"]["endCursor"]
    third = client.execute(PLANS, {"after": end})["plansConnection"]
    assert [n["id"] for n in third["nodes"]] == [newer]
    empty = client.execute(PLANS, {"after": third["pageInfo"]["endCursor"]})["plansConnection"]
    assert empty["edges"] == [] and empty["pageInfo"]["endCursor"] == third["pageInfo"]["endCursor"]
    assert empty["pageInfo"]["startCursor"] is None

    # One partnership's principal pages its own plans only, asked or not.
    viewer = client.as_(create_token(database_url, "viewer@p0.example", partnership="Partnership 0", roles=["viewer"]))
    assert [n["id"] for n in viewer.execute(PLANS, {})["plansConnection"]["nodes"]] == [made[0], newer]
    assert viewer.errors(PLANS, {"partnership": "Partnership 1"})[0]["extensions"]["code"] == "FORBIDDEN"


def test_a_bad_page_request_names_its_argument(client: GraphQLClient) -> None:
    a_plan(client)
    too_many = client.errors(PLANS, {"first": 501})[0]
    assert (too_many["extensions"]["code"], too_many["extensions"]["field"]) == ("LIMIT_EXCEEDED", "first")
    negative = client.errors(PLANS, {"first": -1})[0]
    assert (negative["extensions"]["code"], negative["extensions"]["field"]) == ("VALIDATION", "first")
    garbled = client.errors(PLANS, {"after": "not a cursor"})[0]
    assert (garbled["extensions"]["code"], garbled["extensions"]["field"]) == ("VALIDATION", "after")


def test_a_measures_history_pages_exactly_as_the_whole_list_reads(client: GraphQLClient, bob: GraphQLClient) -> None:
    _, mid = a_revised_measure(client, bob)

    whole = client.execute(HISTORY, {"id": mid, "first": 0})["measure"]["history"]
    paged: list[dict[str, Any]] = []
    after = None
    while True:
        page = client.execute(HISTORY, {"id": mid, "first": 4, "after": after})["measure"]["historyConnection"]
        paged += [e["node"] for e in page["edges"]]
        assert [e["cursor"] for e in page["edges"]] == [e["node"]["cursor"] for e in page["edges"]]
        assert page["pageInfo"]["hasPreviousPage"] is (after is not None)
        after = page["pageInfo"]["endCursor"]
        if not page["pageInfo"]["hasNextPage"]:
            break

    assert len(whole) == 4 and paged == whole
    assert [e["id"] for e in whole] == [f"Revision:{e['position']}" for e in whole]


def test_a_measures_history_needs_the_auditor_role_paged_or_not(client: GraphQLClient, database_url: str) -> None:
    plan_id = a_plan(client, partnership="Safer Stockton Partnership")
    mid = criminal_damage(client, plan_id)["id"]
    viewer = client.as_(
        create_token(database_url, "viewer@a.example", partnership="Safer Stockton Partnership", roles=["viewer"])
    )
    query = "query($id: ID!) { measure(id: $id) { historyConnection { nodes { id } } } }"
    assert viewer.errors(query, {"id": mid})[0]["extensions"]["code"] == "FORBIDDEN"


def test_the_audit_trail_says_where_its_page_starts_and_whether_entries_come_before(
    client: GraphQLClient, bob: GraphQLClient
) -> None:
    a_revised_measure(client, bob)
    query = """query($after: String) { auditTrail(first: 2, after: $after) {
      edges { cursor } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }"""

    first = client.execute(query, {})["auditTrail"]
    second = client.execute(query, {"after": first["pageInfo"]["endCursor"]})["auditTrail"]

    assert first["pageInfo"] == {
        "hasNextPage": True,
        "hasPreviousPage": False,
        "startCursor": first["edges"][0]["cursor"],
        "endCursor": first["edges"][1]["cursor"],
    }
    assert second["pageInfo"]["hasPreviousPage"] is True
    assert second["pageInfo"]["startCursor"] == second["edges"][0]["cursor"]
