"""Automatic persisted queries, on the wire exactly as Apollo's `PersistedQueryLink` sends them.

The link sends `extensions.persistedQuery = {version: 1, sha256Hash}` without the query; on
`PersistedQueryNotFound` it sends the hash with the query; reads may go by GET with `extensions` in the query
string (`useGETForHashedQueries`). tests/clients/ runs the link itself against the service.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from service.app import create_app
from service.auth.tokens import create_token
from service.persisted_queries import PersistedQueries, PersistedQueryError
from service.settings import Settings
from tests.e2e import documents as doc
from tests.e2e.given import a_plan, criminal_damage
from tests.e2e.live import GraphQLClient, LiveServer, serving

ACCEPT = "application/graphql-response+json,application/json;q=0.9"


@pytest.fixture(scope="module")
def live(shared_database: str) -> Iterator[LiveServer]:
    with serving(shared_database) as server:
        yield server


@pytest.fixture(scope="module")
def operator(live: LiveServer, shared_database: str) -> GraphQLClient:
    return GraphQLClient(live.url, create_token(shared_database, "operator@ledger.example"))


def sha256(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()


def persisted(digest: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": digest}}


def post(client: GraphQLClient, body: dict[str, Any], **headers: str) -> httpx.Response:
    sent = {"accept": ACCEPT, "authorization": f"Bearer {client.token}", **headers}
    return httpx.post(client.url + "/graphql", json=body, headers=sent, timeout=30)


def get(client: GraphQLClient, params: dict[str, Any], **headers: str) -> httpx.Response:
    query = {k: v if isinstance(v, str) else json.dumps(v, separators=(",", ":")) for k, v in params.items()}
    sent = {"accept": ACCEPT, "authorization": f"Bearer {client.token}", **headers}
    return httpx.get(client.url + "/graphql", params=query, headers=sent, timeout=30)


def unique(query: str) -> str:
    """The same operation as another test's, under a hash of its own (the store is shared by the module)."""
    return f"{query}\n# {os.urandom(6).hex()}"


def test_a_hash_alone_then_with_its_query_then_alone_again(operator: GraphQLClient) -> None:
    plan_id = a_plan(operator)
    query = unique(doc.DASHBOARD)
    digest = sha256(query)
    variables = {"id": plan_id}

    unknown = post(operator, {"variables": variables, "extensions": persisted(digest)})
    stored = post(operator, {"query": query, "variables": variables, "extensions": persisted(digest)})
    by_hash = post(operator, {"variables": variables, "extensions": persisted(digest)})

    # Status 200: a normal step of the protocol, after which the link retries (on a 400 older links give up).
    assert unknown.status_code == 200
    assert unknown.json() == {
        "errors": [{"message": "PersistedQueryNotFound", "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"}}]
    }
    assert stored.status_code == 200
    assert stored.json()["data"]["plan"]["id"] == plan_id
    assert by_hash.status_code == 200
    assert by_hash.json() == stored.json()
    # The response cache keys on the document, however it arrived.
    assert by_hash.headers["x-cache"] == "hit"


def test_hashed_reads_go_by_get_with_extensions_in_the_query_string(operator: GraphQLClient) -> None:
    plan_id = a_plan(operator)
    criminal_damage(operator, plan_id)
    query = unique(doc.DASHBOARD)
    digest = sha256(query)
    params = {"variables": {"id": plan_id}, "extensions": persisted(digest)}

    unknown = get(operator, params)
    stored = post(operator, {"query": query, **params})
    first = get(operator, params)
    revalidated = get(operator, params, **{"if-none-match": first.headers["etag"]})

    assert unknown.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    assert first.status_code == 200
    assert first.json() == stored.json()
    assert len(first.json()["data"]["plan"]["measures"]) == 1
    assert revalidated.status_code == 304


def test_a_hash_that_is_not_the_querys_is_refused_and_nothing_is_kept(operator: GraphQLClient) -> None:
    query = unique("{ plans { id } }")
    claimed = sha256(query + " ")

    refused = post(operator, {"query": query, "extensions": persisted(claimed)})
    later = post(operator, {"extensions": persisted(claimed)})

    assert refused.status_code == 400
    (error,) = refused.json()["errors"]
    assert error["extensions"] == {"code": "VALIDATION", "field": "persistedQuery.sha256Hash"}
    assert later.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


@pytest.mark.parametrize(
    ("extensions", "field"),
    [
        ({"persistedQuery": {"version": 2, "sha256Hash": "0" * 64}}, "persistedQuery.version"),
        ({"persistedQuery": {"version": 1, "sha256Hash": "not hex"}}, "persistedQuery.sha256Hash"),
        ({"persistedQuery": {"version": 1}}, "persistedQuery.sha256Hash"),
        ({"persistedQuery": "0" * 64}, "persistedQuery"),
    ],
)
def test_a_malformed_persisted_query_is_a_400_naming_the_field(
    operator: GraphQLClient, extensions: dict[str, Any], field: str
) -> None:
    response = post(operator, {"extensions": extensions})

    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"] == {"code": "VALIDATION", "field": field}


def test_a_persisted_query_is_held_to_the_same_limits_and_one_over_them_is_not_kept(
    operator: GraphQLClient,
) -> None:
    deep = "{ plans { " + "measures { plan { " * 6 + "id" + " } }" * 6 + " } }"
    digest = sha256(deep)

    refused = post(operator, {"query": deep, "extensions": persisted(digest)})
    later = post(operator, {"extensions": persisted(digest)})

    assert refused.status_code == 400
    assert refused.json()["errors"][0]["extensions"]["limit"] == "maxDepth"
    assert later.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


def test_page_sizes_in_a_persisted_querys_variables_are_checked_every_time(operator: GraphQLClient) -> None:
    query = unique("query($n: Int) { auditTrail(first: $n) { edges { cursor } } }")
    digest = sha256(query)
    kept = post(operator, {"query": query, "variables": {"n": 5}, "extensions": persisted(digest)})

    too_many = post(operator, {"variables": {"n": 100_000}, "extensions": persisted(digest)})

    assert "errors" not in kept.json(), kept.json()
    assert too_many.json()["errors"][0]["extensions"]["limit"] == "maxPageSize"


def test_a_persisted_mutation_by_get_is_a_405(operator: GraphQLClient) -> None:
    plan_id = a_plan(operator)
    mutation = unique(doc.ADD_THEME)
    digest = sha256(mutation)
    variables = {"input": {"planId": plan_id, "code": "9", "title": "Theme nine"}}
    assert (
        "errors"
        not in post(operator, {"query": mutation, "variables": variables, "extensions": persisted(digest)}).json()
    )

    by_get = get(operator, {"variables": variables, "extensions": persisted(digest)})

    assert by_get.status_code == 405
    assert by_get.headers["allow"] == "POST"


def test_the_store_keeps_the_most_recently_used_documents_within_its_bytes() -> None:
    store = PersistedQueries(max_bytes=4 * (1000 + 200))  # four documents of 1,000 bytes
    documents = {sha256(q): q for q in (f"{{ plans {{ id }} }}#{n:0>983}" for n in range(5))}
    digests = list(documents)
    for digest in digests[:4]:
        store.keep(digest, documents[digest])
    store.resolve(digests[0], None)  # used: now the most recent

    store.keep(digests[4], documents[digests[4]])

    assert store.stats() == {"documents": 4, "bytes": 4 * 1200}
    assert store.resolve(digests[0], None).query == documents[digests[0]]
    with pytest.raises(PersistedQueryError, match="PersistedQueryNotFound"):
        store.resolve(digests[1], None)


def test_with_the_store_turned_off_the_link_is_told_persisted_queries_are_not_supported(
    shared_database: str,
) -> None:
    settings = Settings.from_env({"DATABASE_URL": shared_database, "ML_PERSISTED_QUERIES_MB": "0"})
    server = LiveServer(create_app(settings)).start()
    try:
        client = GraphQLClient(server.url, create_token(shared_database, "operator@ledger.example"))
        response = post(client, {"extensions": persisted(sha256("{ plans { id } }"))})
    finally:
        server.stop()

    assert response.status_code == 200
    assert response.json()["errors"][0] == {
        "message": "PersistedQueryNotSupported",
        "extensions": {"code": "PERSISTED_QUERY_NOT_SUPPORTED"},
    }
    assert Settings.from_env({}).persisted_queries_bytes == 8 << 20
