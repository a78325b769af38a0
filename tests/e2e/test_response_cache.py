"""The response cache: never stale, never shared across visibilities, and ETag / If-None-Match → 304.

Every test runs the whole service on a real port over real HTTP; `x-cache: hit` says a result was served
from the cache without executing the query.
"""

from __future__ import annotations

import concurrent.futures
import json
import uuid
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import httpx
import psycopg
import pytest

from domain.measure import Measure
from domain.plan import Plan
from projections.locks import REBUILD_LOCK_KEY
from projections.read_model_tables import VERSION
from projections.view import NAME, REBUILDING
from service.auth.principal import Principal, Role, public_principal
from service.auth.tokens import create_token, prefix_of, revoke_token
from service.response_cache import ResponseCache, Scope, analyse, visibility
from service.settings import Settings
from tests.e2e import documents as doc
from tests.e2e.given import a_plan, criminal_damage, figure
from tests.e2e.live import GraphQLClient, LiveServer, serving


def unique(partnership: str) -> str:
    """A partnership of its own for each test: a plan's identity is its partnership and title."""
    return f"{partnership} {uuid.uuid4().hex[:6]}"


HISTORY = "query($id: ID!) { measure(id: $id) { id number history { action after } } }"
PLANS = "{ plans { id partnership title } }"


@pytest.fixture(scope="module")
def live(shared_database: str) -> Iterator[LiveServer]:
    with serving(shared_database, response_cache=True) as server:
        yield server


@pytest.fixture(scope="module")
def operator(live: LiveServer, shared_database: str) -> GraphQLClient:
    return GraphQLClient(live.url, create_token(shared_database, "operator@ledger.example"))


def token(database_url: str, name: str, partnership: str, role: str) -> str:
    return create_token(database_url, name, partnership=partnership, roles=[role])


def submit(client: GraphQLClient, measure_id: str, quarter: str, value: str) -> None:
    client.execute(
        doc.SUBMIT_FIGURE,
        {"input": {"measureId": measure_id, "component": "total", "quarter": quarter, "value": value}},
    )


def dashboard(client: GraphQLClient, plan_id: str, **headers: str) -> httpx.Response:
    return client.post(doc.DASHBOARD, {"id": plan_id}, **headers)


def q1_value(response: httpx.Response) -> str | None:
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    (component,) = body["data"]["plan"]["measures"][0]["components"]
    value: str | None = next((f["value"] for f in component["figures"] if f["quarter"] == "Q1"), None)
    return value


def test_a_write_is_visible_to_the_very_next_read_through_the_cache(operator: GraphQLClient) -> None:
    plan_id = a_plan(operator)
    measure_id = criminal_damage(operator, plan_id)["id"]

    first = dashboard(operator, plan_id)
    again = dashboard(operator, plan_id)
    assert (first.headers["x-cache"], again.headers["x-cache"]) == ("miss", "hit")
    assert again.content == first.content
    assert again.headers["etag"] == first.headers["etag"]
    assert q1_value(again) is None

    etags = {first.headers["etag"]}
    for n, quarter in enumerate(("Q1", "Q2", "Q3", "Q4")):
        if quarter == "Q1":
            submit(operator, measure_id, "Q1", "500")
        else:
            operator.execute(
                doc.REVISE_FIGURE,
                {
                    "input": {
                        "measureId": measure_id,
                        "component": "total",
                        "quarter": "Q1",
                        "value": str(500 + n),
                        "reason": "late recording",
                    }
                },
            )
        # The very next read, with nothing in between.
        after = dashboard(operator, plan_id)
        assert q1_value(after) == str(500 + n)
        assert after.headers["x-cache"] == "miss"
        assert after.headers["etag"] not in etags
        etags.add(after.headers["etag"])
        assert dashboard(operator, plan_id).headers["x-cache"] == "hit"


def test_an_unchanged_read_with_if_none_match_is_a_304_without_a_body(operator: GraphQLClient) -> None:
    plan_id = a_plan(operator)
    measure_id = criminal_damage(operator, plan_id)["id"]
    first = dashboard(operator, plan_id)
    etag = first.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"')  # strong
    assert first.headers["cache-control"] == "private, no-cache"
    assert "authorization" in first.headers["vary"].lower()

    unchanged = dashboard(operator, plan_id, **{"if-none-match": etag})
    assert unchanged.status_code == 304
    assert unchanged.content == b""
    assert unchanged.headers["etag"] == etag
    # A list of tags, and the weak form of ours, match too (If-None-Match compares weakly).
    assert dashboard(operator, plan_id, **{"if-none-match": f'"other", W/{etag}'}).status_code == 304

    submit(operator, measure_id, "Q1", "492")
    changed = dashboard(operator, plan_id, **{"if-none-match": etag})
    assert changed.status_code == 200
    assert q1_value(changed) == "492"
    assert changed.headers["etag"] != etag


def test_get_requests_are_cached_and_revalidated_too(operator: GraphQLClient) -> None:
    plan_id = a_plan(operator)
    params = {"query": doc.DASHBOARD, "variables": json.dumps({"id": plan_id})}
    headers = {"authorization": f"Bearer {operator.token}", "accept": "application/json"}

    first = httpx.get(operator.url + "/graphql", params=params, headers=headers, timeout=30)
    assert first.status_code == 200, first.text
    second = httpx.get(operator.url + "/graphql", params=params, headers=headers, timeout=30)
    assert second.headers["x-cache"] == "hit"
    assert second.json() == first.json()
    revalidated = httpx.get(
        operator.url + "/graphql",
        params=params,
        headers={**headers, "if-none-match": first.headers["etag"]},
        timeout=30,
    )
    assert revalidated.status_code == 304


def test_while_a_rebuild_runs_nothing_is_cached_or_served_from_the_cache(
    operator: GraphQLClient, shared_database: str
) -> None:
    plan_id = a_plan(operator)
    measure_id = criminal_damage(operator, plan_id)["id"]
    submit(operator, measure_id, "Q1", "500")
    before = [dashboard(operator, plan_id) for _ in range(2)]
    assert [r.headers["x-cache"] for r in before] == ["miss", "hit"]

    # As a rebuild marks the read model while it runs (projections/rebuild.py), holding its lock.
    with psycopg.connect(shared_database, autocommit=True) as rebuilding:
        rebuilding.execute("SELECT pg_advisory_lock(%s)", (REBUILD_LOCK_KEY,))
        rebuilding.execute("UPDATE read_model_meta SET version = %s WHERE name = %s", (REBUILDING, NAME))
        try:
            during = [dashboard(operator, plan_id, **{"if-none-match": before[0].headers["etag"]}) for _ in range(2)]
        finally:
            rebuilding.execute("UPDATE read_model_meta SET version = %s WHERE name = %s", (VERSION, NAME))
            rebuilding.execute("SELECT pg_advisory_unlock(%s)", (REBUILD_LOCK_KEY,))

    for response in during:
        # Executed, as if there were no cache: no hit, no ETag, and no 304 for the tag it had before.
        assert response.status_code == 200
        assert "x-cache" not in response.headers and "etag" not in response.headers
        assert q1_value(response) == "500"
    # Marked no more: cached again (a real rebuild also changes the epoch, so an entry from before it is a miss).
    assert dashboard(operator, plan_id).headers["x-cache"] == "hit"


def test_a_write_to_another_plan_leaves_the_entry_in_place(operator: GraphQLClient) -> None:
    watched = a_plan(operator)
    criminal_damage(operator, watched)
    other = a_plan(operator)
    other_measure = criminal_damage(operator, other)["id"]
    first = dashboard(operator, watched)

    submit(operator, other_measure, "Q1", "100")

    after = dashboard(operator, watched)
    assert after.headers["x-cache"] == "hit"
    assert after.headers["etag"] == first.headers["etag"]
    assert dashboard(operator, watched, **{"if-none-match": first.headers["etag"]}).status_code == 304


def test_identical_reads_arriving_together_after_a_write_all_see_it(operator: GraphQLClient) -> None:
    plan_id = a_plan(operator)
    measure_id = criminal_damage(operator, plan_id)["id"]
    dashboard(operator, plan_id)
    submit(operator, measure_id, "Q1", "321")

    # Together they may share one execution (the first's); each still sees the write.
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(lambda _: dashboard(operator, plan_id), range(8)))
    assert {q1_value(r) for r in responses} == {"321"}
    assert len({r.headers["etag"] for r in responses}) == 1
    assert len({r.content for r in responses}) == 1


def test_identical_reads_waiting_for_one_execution_leave_it_the_connections_it_needs(
    shared_database: str, operator: GraphQLClient
) -> None:
    plan_id = a_plan(operator)
    criminal_damage(operator, plan_id)
    # Two connections: the followers waiting for the first's execution must not be holding them.
    with serving(shared_database, response_cache=True, pool_size=2) as server:
        client = GraphQLClient(server.url, operator.token)
        with concurrent.futures.ThreadPoolExecutor(12) as pool:
            responses = list(pool.map(lambda _: dashboard(client, plan_id), range(12)))
    assert {r.status_code for r in responses} == {200}
    assert len({r.content for r in responses}) == 1


def test_a_measure_read_is_revalidated_by_its_plan(operator: GraphQLClient) -> None:
    plan_id = a_plan(operator)
    measure_id = criminal_damage(operator, plan_id)["id"]
    first = operator.post(doc.MEASURE, {"id": measure_id})
    assert operator.post(doc.MEASURE, {"id": measure_id}).headers["x-cache"] == "hit"

    # A change to the plan itself (a theme) reaches the measure's `plan` and is a new result too.
    operator.execute(doc.ADD_THEME, {"input": {"planId": plan_id, "code": "6", "title": "Another theme"}})
    assert operator.post(doc.MEASURE, {"id": measure_id}).headers["x-cache"] == "miss"

    submit(operator, measure_id, "Q2", "600")
    after = operator.post(doc.MEASURE, {"id": measure_id})
    assert after.headers["x-cache"] == "miss"
    assert figure(after.json()["data"]["measure"], "total", "Q2")["value"] == "600"
    assert after.headers["etag"] != first.headers["etag"]


def test_a_new_plan_appears_in_the_very_next_plans_list(
    live: LiveServer, operator: GraphQLClient, shared_database: str
) -> None:
    partnership = unique("Hartlepool Safer Partnership")
    viewer = GraphQLClient(live.url, token(shared_database, "viewer@hartlepool.example", partnership, "viewer"))
    a_plan(operator, partnership=partnership)
    before = viewer.post(PLANS)
    assert viewer.post(PLANS).headers["x-cache"] == "hit"
    assert len(before.json()["data"]["plans"]) == 1

    operator.execute(
        doc.CREATE_PLAN,
        {
            "input": {
                "partnership": partnership,
                "title": "Community Safety Plan 2013-14",
                "year": "2013-14",
                "periodStart": "2013-04-01",
                "periodEnd": "2014-03-31",
            }
        },
    )

    after = viewer.post(PLANS)
    assert after.headers["x-cache"] == "miss"
    assert len(after.json()["data"]["plans"]) == 2


def test_principals_who_may_see_different_things_never_share_an_entry(
    live: LiveServer, operator: GraphQLClient, shared_database: str
) -> None:
    a, b = unique("Safer Stockton Partnership"), unique("Durham Community Safety Partnership")
    plan_a = a_plan(operator, partnership=a)
    measure_a = criminal_damage(operator, plan_a)["id"]
    plan_b = a_plan(operator, partnership=b)
    criminal_damage(operator, plan_b)

    def as_(name: str, partnership: str, role: str) -> GraphQLClient:
        return GraphQLClient(live.url, token(shared_database, name, partnership, role))

    viewer_a = as_("viewer@a.example", a, "viewer")
    viewer_b = as_("viewer@b.example", b, "viewer")
    auditor_a = as_("auditor@a.example", a, "auditor")

    # A's viewer reads A's plan (now cached); B's viewer asking the same is refused, not served A's entry.
    assert dashboard(viewer_a, plan_a).status_code == 200
    assert dashboard(viewer_a, plan_a).headers["x-cache"] == "hit"
    refused = dashboard(viewer_b, plan_a)
    assert refused.headers.get("x-cache") != "hit"
    assert [e["extensions"]["code"] for e in refused.json()["errors"]] == ["FORBIDDEN"]
    assert "etag" not in refused.headers

    # The same document lists different plans to each; neither is served the other's.
    for viewer, own, foreign in ((viewer_a, plan_a, plan_b), (viewer_b, plan_b, plan_a)):
        for _ in range(2):
            listed = {p["id"] for p in viewer.post(PLANS).json()["data"]["plans"]}
            assert own in listed and foreign not in listed

    # History is for auditors: cached for A's auditor, still refused to A's viewer, in either order.
    for _ in range(2):
        audited = auditor_a.post(HISTORY, {"id": measure_a})
        assert audited.status_code == 200 and "errors" not in audited.json(), audited.text
        assert audited.json()["data"]["measure"]["history"]
        viewed = viewer_a.post(HISTORY, {"id": measure_a})
        assert viewed.headers.get("x-cache") != "hit"
        assert [e["extensions"]["code"] for e in viewed.json()["errors"]] == ["FORBIDDEN"]
    assert auditor_a.post(HISTORY, {"id": measure_a}).headers["x-cache"] == "hit"

    # What a principal may see, not its name, makes the key: a second viewer of A shares the first's entry.
    other_viewer_a = as_("another-viewer@a.example", a, "viewer")
    shared = dashboard(other_viewer_a, plan_a)
    assert shared.headers["x-cache"] == "hit"
    assert shared.headers["etag"] == dashboard(viewer_a, plan_a).headers["etag"]


def test_a_revoked_token_is_refused_even_for_a_cached_result(
    live: LiveServer, operator: GraphQLClient, shared_database: str
) -> None:
    partnership = unique("Safer Stockton Partnership")
    plan_id = a_plan(operator, partnership=partnership)
    secret = token(shared_database, "leaver@a.example", partnership, "viewer")
    leaver = GraphQLClient(live.url, secret)
    assert dashboard(leaver, plan_id).status_code == 200
    assert dashboard(leaver, plan_id).headers["x-cache"] == "hit"

    assert revoke_token(shared_database, prefix_of(secret))

    refused = dashboard(leaver, plan_id)
    assert refused.status_code == 401
    assert refused.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_graphql_response_json_keeps_its_media_type_and_status_codes(operator: GraphQLClient) -> None:
    plan_id = a_plan(operator)
    media = "application/graphql-response+json"
    plain = dashboard(operator, plan_id)
    first = dashboard(operator, plan_id, accept=media)
    hit = dashboard(operator, plan_id, accept=media)
    for response in (first, hit):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith(media)
        assert response.json() == plain.json()
    assert hit.headers["x-cache"] == "hit"
    # Another media type is another representation, with its own ETag.
    assert hit.headers["etag"] != plain.headers["etag"]
    assert plain.headers["content-type"].startswith("application/json")
    assert dashboard(operator, plan_id, accept=media, **{"if-none-match": hit.headers["etag"]}).status_code == 304

    invalid = operator.post("{ plans { nope } }", accept=media)
    assert invalid.status_code == 400
    assert "etag" not in invalid.headers


def test_mutations_and_failed_queries_are_never_cached(operator: GraphQLClient) -> None:
    plan_id = a_plan(operator)
    add = {"input": {"planId": plan_id, "code": "7", "title": "Theme seven"}}
    created = operator.post(doc.ADD_THEME, add)
    assert "errors" not in created.json(), created.text
    assert "etag" not in created.headers and "x-cache" not in created.headers

    bad = operator.post("query($id: ID!) { plan(id: $id) { id } }", {"id": "not-an-id"})
    assert bad.json()["errors"][0]["extensions"]["code"] == "VALIDATION"
    assert "x-cache" not in bad.headers
    unauthenticated = operator.as_(None).post(doc.DASHBOARD, {"id": plan_id})
    assert unauthenticated.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "etag" not in unauthenticated.headers


def test_a_plan_or_measure_that_does_not_exist_yet_appears_as_soon_as_it_does(operator: GraphQLClient) -> None:
    partnership = unique("Safer Stockton Partnership")
    # Ids are derived from names, so a client can ask for a plan and a measure before they exist.
    plan_id = str(Plan.create_id(partnership, "Community Safety Plan 2012-13"))
    measure_id = str(Measure.create_id(UUID(plan_id), "5.1"))
    plan_query = "query($id: ID!) { plan(id: $id) { id title } }"
    measure_query = "query($id: ID!) { measure(id: $id) { id number } }"
    asked = ((plan_query, {"id": plan_id}, "plan"), (measure_query, {"id": measure_id}, "measure"))
    for query, variables, field in asked:
        assert operator.post(query, variables).json()["data"] == {field: None}
        assert operator.post(query, variables).headers["x-cache"] == "hit"

    a_plan(operator, partnership=partnership)
    assert operator.post(plan_query, {"id": plan_id}).json()["data"]["plan"]["id"] == plan_id
    assert operator.post(measure_query, {"id": measure_id}).json()["data"]["measure"] is None

    criminal_damage(operator, plan_id)
    assert operator.post(measure_query, {"id": measure_id}).json()["data"]["measure"]["number"] == "5.1"


@pytest.fixture(scope="module")
def uncached(shared_database: str) -> Iterator[GraphQLClient]:
    with serving(shared_database, run_projection=False, response_cache=False) as server:
        yield GraphQLClient(server.url, create_token(shared_database, "uncached@ledger.example"))


def test_with_the_cache_off_results_are_the_same_and_carry_no_etag(
    operator: GraphQLClient, uncached: GraphQLClient
) -> None:
    plan_id = a_plan(operator)
    criminal_damage(operator, plan_id)
    cached = dashboard(operator, plan_id)
    plain = dashboard(uncached, plan_id, **{"if-none-match": cached.headers["etag"]})

    assert plain.status_code == 200
    assert plain.json() == cached.json()
    for header in ("etag", "x-cache", "cache-control"):
        assert header not in plain.headers
    assert plain.headers["vary"] == "Accept-Encoding"  # compressed on the way out, nothing else varies


# ----- what the cache reads from a document and a caller, without a server

PLAN_ID = "0f8fad5b-d9cb-469f-a165-70867728950e"


def scope_of(query: str, variables: dict[str, Any] | None = None, operation_name: str | None = None) -> Scope | None:
    shape = analyse(query, operation_name, max_tokens=2000)
    return None if shape is None else shape.scope(variables or {}, None)


def test_the_plans_a_document_reads_are_found_through_fragments_aliases_and_defaults() -> None:
    fragment = "query { ...Root } fragment Root on Query { a: plan(id: $id) { id } ... on Query { __typename } }"
    with_default = f'query($id: ID = "{PLAN_ID}") {{ plan(id: $id) {{ id }} }}'
    for query, variables in ((fragment, {"id": PLAN_ID}), (with_default, {})):
        found = scope_of(query, variables)
        assert found is not None and found.plans == {UUID(PLAN_ID)}, query

    two = "query A { plan(id: $id) { id } } query B { auditTrail { pageInfo { hasNextPage } } }"
    found = scope_of(two, {"id": PLAN_ID}, "B")
    assert found is not None and found.everything


def test_what_the_cache_cannot_validate_is_executed_uncached() -> None:
    uncacheable = [
        ("{ auditDigest { position } }", {}),  # the hash chain has a position of its own
        ("mutation { addTheme(input: {}) { position } }", {}),
        ("subscription { statusChanged { cursor } }", {}),
        ("query($id: ID!) { plan(id: $id) { id } }", {"id": "not-an-id"}),
        ("query { plan(id: 12) { id } }", {}),
        ("query A { __typename } query B { __typename }", {}),  # which one? execution says
        ("{ plan(id: ", {}),
        ("{ ...Missing }", {}),
        ("{ ...Loop } fragment Loop on Query { ...Loop }", {}),
    ]
    for query, variables in uncacheable:
        assert scope_of(query, variables) is None, query


def test_visibility_is_what_a_principal_may_see_not_who_it_is() -> None:
    def viewer(name: str, partnership: str | None, *roles: Role) -> Principal:
        return Principal(name, partnership, frozenset(roles or {Role.VIEWER}))

    assert visibility(viewer("ann", "Stockton")) == visibility(viewer("bob", "STOCKTON"))
    distinct = [
        visibility(viewer("ann", "Stockton")),
        visibility(viewer("ann", "Durham")),
        visibility(viewer("ann", "Stockton", Role.AUDITOR)),
        visibility(viewer("ann", None)),
        visibility(viewer("ann", None, Role.ADMIN)),
        visibility(public_principal()),
        visibility(Principal("ann", "Stockton", frozenset({Role.SUBMITTER}), themes=frozenset({"5"}))),
        visibility(None),
    ]
    assert len({json.dumps(v) for v in distinct}) == len(distinct)


def test_the_cache_is_bounded_by_bytes() -> None:
    cache = ResponseCache(max_bytes=10_000, build="test")
    for n in range(100):
        cache.put(n.to_bytes(4, "big"), "1.1", b"x" * 1000)
    assert cache.size <= 10_000
    assert cache.get((99).to_bytes(4, "big"), "1.1") is not None
    assert cache.get((0).to_bytes(4, "big"), "1.1") is None
    assert cache.get((99).to_bytes(4, "big"), "1.2") is None  # its plans changed


def test_settings_turn_the_cache_on_and_size_it() -> None:
    assert Settings.from_env({}).response_cache  # on by default
    assert not Settings.from_env({"ML_RESPONSE_CACHE": "0"}).response_cache
    settings = Settings.from_env({"ML_RESPONSE_CACHE": "on", "ML_RESPONSE_CACHE_MB": "8"})
    assert settings.response_cache and settings.response_cache_bytes == 8 << 20
