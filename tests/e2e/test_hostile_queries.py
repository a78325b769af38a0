"""Hostile requests are refused before execution with LIMIT_EXCEEDED and a message naming the limit.

Limits (service/limits.py): depth 12, 30 aliases, 2,000 tokens, cost 20,000,
pages of 500, a request body of 1 MiB, and a mutation rate per principal.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from service.auth.tokens import create_token
from tests.e2e import documents as doc
from tests.e2e.given import a_plan, criminal_damage
from tests.e2e.live import GraphQLClient, serving
from tests.e2e.principals import event_count, first_message


@pytest.fixture(scope="module")
def client(shared_client: GraphQLClient) -> GraphQLClient:
    return shared_client


@pytest.fixture(scope="module")
def measure_id(client: GraphQLClient) -> str:
    found: str = criminal_damage(client, a_plan(client))["id"]
    return found


def refused(client: GraphQLClient, query: str, variables: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The errors of a request refused before execution: no `data` at all, a 400 for graphql-response+json."""
    response = client.post(query, variables, accept="application/graphql-response+json")
    assert response.status_code == 400, response.text
    body: dict[str, Any] = response.json()
    assert "data" not in body, body
    assert all(e["extensions"]["code"] == "LIMIT_EXCEEDED" for e in body["errors"]), body["errors"]
    errors: list[dict[str, Any]] = body["errors"]
    return errors


def nested(depth: int) -> str:
    """`plans { measures { plan { measures { ... id } } } }`, `depth` fields deep."""
    fields = ["plans"] + ["measures" if i % 2 == 0 else "plan" for i in range(depth - 2)]
    return "{ " + " { ".join(fields) + " { id" + " }" * (len(fields) + 1)


def test_a_query_fifty_deep_is_refused_naming_the_depth_limit(client: GraphQLClient) -> None:
    errors = refused(client, nested(50))

    depth = next(e for e in errors if e["extensions"]["limit"] == "maxDepth")  # its cost is over the limit too
    assert depth["message"] == "query depth is 50, over the limit of 12 (maxDepth)"
    assert depth["extensions"] == {"code": "LIMIT_EXCEEDED", "limit": "maxDepth", "max": 12, "found": 50}


def test_a_thousand_aliases_are_refused_before_they_are_even_parsed(client: GraphQLClient) -> None:
    # An alias costs at least three tokens: a thousand cannot fit within the token limit, which is counted first.
    many = "{ " + " ".join(f"a{i}: auditDigest {{ position }}" for i in range(1000)) + " }"

    [error] = refused(client, many)

    assert error["message"] == "number of tokens is over the limit of 2,000 (maxTokens)"


def test_more_aliases_than_the_limit_are_refused_naming_the_alias_limit(client: GraphQLClient) -> None:
    few = "{ " + " ".join(f"a{i}: auditDigest {{ position }}" for i in range(31)) + " }"

    [error] = refused(client, few)

    assert error["message"] == "number of aliases is 31, over the limit of 30 (maxAliases)"
    assert error["extensions"] == {"code": "LIMIT_EXCEEDED", "limit": "maxAliases", "max": 30, "found": 31}


def test_a_million_rows_are_refused_naming_the_page_size_limit(client: GraphQLClient) -> None:
    literal = refused(client, "{ auditTrail(first: 1000000) { nodes { position } } }")
    by_variable = client.errors("query($n: Int) { auditTrail(first: $n) { nodes { position } } }", {"n": 1_000_000})

    for errors in (literal, by_variable):
        [error] = errors
        assert error["message"] == "page size of auditTrail is 1,000,000, over the limit of 500 (maxPageSize)"
        assert error["extensions"]["code"] == "LIMIT_EXCEEDED"


# Counted before parsing: 300,000 tokens once took 20 seconds of the event loop to parse and validate.
@pytest.mark.timeout(10, func_only=True)
@pytest.mark.parametrize("tokens", [5_000, 300_000])
def test_a_huge_number_of_tokens_is_refused_at_once_naming_the_token_limit(client: GraphQLClient, tokens: int) -> None:
    [error] = refused(client, "{ plans { " + "id " * tokens + "} }")

    assert error["message"] == "number of tokens is over the limit of 2,000 (maxTokens)"


def test_a_query_costing_more_than_the_limit_is_refused_naming_the_cost_limit(client: GraphQLClient) -> None:
    # Within the depth limit, but every plan's measures' plan's measures ... multiply.
    costly = "{ plans { measures { plan { measures { plan { measures { components { figures { value } } } } } } } } }"

    [error] = refused(client, costly)

    assert error["extensions"]["limit"] == "maxCost"
    assert error["message"].startswith("query cost is ") and "over the limit of 20,000 (maxCost)" in error["message"]


def test_a_hostile_mutation_is_refused_before_it_writes_anything(
    client: GraphQLClient, measure_id: str, shared_database: str
) -> None:
    figure = {"measureId": measure_id, "component": "total", "quarter": "Q1", "value": "492"}
    fields = ["measure"] + ["plan" if i % 2 == 0 else "measures" for i in range(12)]
    deep = " { ".join(fields) + " { id" + " }" * len(fields)
    aliased = " ".join(f"m{i}: submitFigure(input: $input) {{ position }}" for i in range(31))
    before = event_count(shared_database)

    too_deep = refused(
        client,
        f"mutation($input: SubmitFigureInput!) {{ submitFigure(input: $input) {{ {deep} }} }}",
        {"input": figure},
    )
    too_many = refused(client, f"mutation($input: SubmitFigureInput!) {{ {aliased} }}", {"input": figure})

    assert too_deep[0]["extensions"]["limit"] == "maxDepth"
    assert too_many[0]["extensions"]["limit"] == "maxAliases"
    assert event_count(shared_database) == before


@pytest.mark.parametrize("chunked", [False, True], ids=["with content-length", "chunked"])
def test_a_body_over_one_mebibyte_is_a_413_with_a_graphql_error(client: GraphQLClient, chunked: bool) -> None:
    body = b'{"query": "{ plans { id } }", "variables": {"pad": "' + b"x" * (1 << 20) + b'"}}'
    content: Any = iter([body[i : i + 65536] for i in range(0, len(body), 65536)]) if chunked else body

    response = httpx.post(
        client.url + "/graphql",
        content=content,
        headers={"content-type": "application/json", "authorization": f"Bearer {client.token}"},
        timeout=30,
    )

    assert response.status_code == 413
    assert response.headers["content-type"].startswith("application/json")
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "LIMIT_EXCEEDED"
    assert error["message"] == "request body is over the limit of 1,048,576 bytes (maxBodyBytes)"


def test_a_body_just_under_the_limit_is_served(client: GraphQLClient) -> None:
    padding = "x" * ((1 << 20) - 200)

    response = client.post("query($pad: String) { plans(partnership: $pad) { id } }", {"pad": padding})

    assert response.status_code == 200 and "errors" not in response.json()


# ----- the mutation rate


@pytest.fixture(scope="module")
def rate_limited(shared_database: str, client: GraphQLClient) -> Iterator[str]:
    """A second server on the same database allowing bursts of 3 mutations, then one a minute.

    It does not run the projection: the first server's keeps the read model it waits for up to date.
    """
    with serving(shared_database, run_projection=False, mutation_rate=1 / 60, mutation_burst=3) as live:
        yield live.url


def test_mutations_over_the_rate_limit_are_refused_per_principal_and_write_nothing(
    rate_limited: str, client: GraphQLClient, measure_id: str, shared_database: str
) -> None:
    busy = GraphQLClient(rate_limited, create_token(shared_database, "busy@stockton.gov.uk"))
    other = GraphQLClient(rate_limited, create_token(shared_database, "other@stockton.gov.uk"))
    commentary = {"measureId": measure_id, "quarter": "Q1", "text": "Improving."}
    for _ in range(3):
        busy.execute(doc.UPDATE_COMMENTARY, {"input": commentary})
    before = event_count(shared_database)

    [error] = busy.errors(doc.UPDATE_COMMENTARY, {"input": commentary})
    reads = busy.execute("{ plans { id } }")
    others = other.execute(doc.UPDATE_COMMENTARY, {"input": commentary})

    assert error["extensions"]["code"] == "LIMIT_EXCEEDED"
    assert error["extensions"]["limit"] == "mutationRate"
    assert error["extensions"]["retryAfterSeconds"] > 0
    assert "mutation rate" in error["message"] and "'busy@stockton.gov.uk'" in error["message"]
    assert reads["plans"] and others["updateCommentary"]["position"] > 0
    assert event_count(shared_database) == before + 1


def test_a_subscription_with_too_many_tokens_is_refused_with_an_error_message(client: GraphQLClient) -> None:
    ws_url = client.url.replace("http://", "ws://") + "/graphql"
    document = "subscription { ledgerEvents { " + "position " * 3000 + "} }"

    message = first_message(ws_url, str(client.token), document, {})

    assert message["type"] == "error", message
    assert message["payload"] == [
        {
            "message": "number of tokens is over the limit of 2,000 (maxTokens)",
            "extensions": {"code": "LIMIT_EXCEEDED", "limit": "maxTokens", "max": 2000},
        }
    ]
