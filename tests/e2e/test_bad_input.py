"""Bad input gets a clear error with a code and the field at fault, writes nothing, and is never a 500."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from functools import partial
from typing import Any

import httpx
import pytest

from tests.e2e import documents as doc
from tests.e2e import principals
from tests.e2e.given import a_plan, criminal_damage
from tests.e2e.live import GraphQLClient


# One server for the whole matrix (tests/e2e/conftest.py): each case makes its own measure.
@pytest.fixture(scope="module")
def client(shared_client: GraphQLClient) -> GraphQLClient:
    return shared_client


@pytest.fixture(scope="module")
def plan_id(client: GraphQLClient) -> str:
    return a_plan(client)


@pytest.fixture
def event_count(shared_database: str) -> Callable[[], int]:
    return partial(principals.event_count, shared_database)


MISSING = object()


def figure_input(mid: str, **changes: Any) -> dict[str, Any]:
    base = {"measureId": mid, "component": "total", "quarter": "Q1", "value": "492"}
    base.update(changes)
    return {k: v for k, v in base.items() if v is not MISSING}


CASES: list[tuple[str, str, dict[str, Any], str, str]] = [
    # id, document, input changes, code, field at fault
    ("negative count", "submit", {"value": "-5"}, "VALIDATION", "value"),
    ("quarter Q5", "submit", {"quarter": "Q5"}, "VALIDATION", "quarter"),
    ("unknown measure", "submit", {"measureId": str(uuid.uuid4())}, "NOT_FOUND", "measureId"),
    ("measure id that is not an id", "submit", {"measureId": "5.1"}, "VALIDATION", "measureId"),
    ("unknown component", "submit", {"component": "yarm"}, "NOT_FOUND", "component"),
    ("blank reason", "revise", {"reason": "  "}, "VALIDATION", "reason"),
    ("missing reason", "revise", {"reason": MISSING}, "VALIDATION", "reason"),
    ("100,000-character commentary", "submit", {"commentary": "x" * 100_000}, "VALIDATION", "commentary"),
    ("NaN", "submit", {"value": "NaN"}, "VALIDATION", "value"),
    ("Infinity", "submit", {"value": "Infinity"}, "VALIDATION", "value"),
    ("text in a number", "submit", {"value": "lots"}, "VALIDATION", "value"),
    ("boolean for a number", "submit", {"value": True}, "VALIDATION", "value"),
    ("number for a quarter", "submit", {"quarter": 3}, "VALIDATION", "quarter"),
    ("list for a string", "submit", {"component": ["total"]}, "VALIDATION", "component"),
    ("zero denominator", "submit", {"value": None, "numerator": "1", "denominator": "0"}, "VALIDATION", "denominator"),
    (
        "numerator above denominator",
        "submit",
        {"value": None, "numerator": "9", "denominator": "3"},
        "VALIDATION",
        "numerator",
    ),
    ("a second submission", "resubmit", {}, "VALIDATION", "quarter"),
    ("revising a figure never submitted", "revise", {"quarter": "Q4"}, "NOT_FOUND", "quarter"),
    ("status override without a reason", "override", {"reason": ""}, "VALIDATION", "reason"),
]


@pytest.mark.parametrize(("case", "document", "changes", "code", "field"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_refused_with_its_code_and_field_and_writes_nothing(
    client: GraphQLClient,
    plan_id: str,
    event_count: Callable[[], int],
    case: str,
    document: str,
    changes: dict[str, Any],
    code: str,
    field: str,
) -> None:
    measure = criminal_damage(client, plan_id, number=f"5.{uuid.uuid4().hex[:8]}")
    mid = measure["id"]
    client.execute(doc.SUBMIT_FIGURE, {"input": figure_input(mid)})
    before = event_count()
    if document == "submit":
        query, variables = doc.SUBMIT_FIGURE, figure_input(mid, **{"quarter": "Q2", **changes})
    elif document == "resubmit":
        query, variables = doc.SUBMIT_FIGURE, figure_input(mid, value="500")
    elif document == "revise":
        query, variables = doc.REVISE_FIGURE, figure_input(mid, **{"reason": "typo", **changes})
    else:
        variables = {"measureId": mid, "quarter": "Q1", "status": "AT_RISK", "reason": "why", **changes}
        query = doc.OVERRIDE_STATUS

    response = client.post(query, {"input": variables})

    assert response.status_code < 500, response.text
    errors = response.json()["errors"]
    assert errors[0]["extensions"]["code"] == code, errors
    assert errors[0]["extensions"]["field"] == field, errors
    assert errors[0]["message"]
    assert "Traceback" not in response.text
    assert event_count() == before


def test_json_nan_and_infinity_literals_are_refused(
    client: GraphQLClient, plan_id: str, event_count: Callable[[], int]
) -> None:
    measure = criminal_damage(client, plan_id, number="5.nan")
    before = event_count()
    for literal in ("NaN", "Infinity", "-Infinity", "1e999"):
        variables = json.dumps({"input": {"measureId": measure["id"], "component": "total", "quarter": "Q1"}})
        # JSON has no NaN or Infinity, but Python's parser accepts them: splice them in raw.
        body = '{"query": ' + json.dumps(doc.SUBMIT_FIGURE) + ', "variables": ' + variables[:-2] + ', "value": '
        body += literal + "}}"
        response = httpx.post(
            client.url + "/graphql",
            content=body,
            headers={"content-type": "application/json", "authorization": f"Bearer {client.token}"},
        )
        assert response.status_code < 500, response.text
        assert response.json()["errors"][0]["extensions"]["code"] == "VALIDATION"
    assert event_count() == before


@pytest.mark.parametrize("body", ["{", "not json", '{"query": 5}', "[]", '{"variables": {}}', ""])
def test_malformed_requests_get_a_graphql_error_body_not_a_500(client: GraphQLClient, body: str) -> None:
    response = httpx.post(
        client.url + "/graphql",
        content=body,
        headers={"content-type": "application/json", "accept": "application/graphql-response+json"},
    )

    assert 400 <= response.status_code < 500
    assert response.headers["content-type"].startswith("application/graphql-response+json")
    assert response.json()["errors"][0]["extensions"]["code"] == "VALIDATION"


def test_an_unknown_field_is_a_validation_error_naming_it(client: GraphQLClient) -> None:
    errors = client.errors("{ plans { id budget } }")

    assert errors[0]["extensions"]["code"] == "VALIDATION"
    assert "budget" in errors[0]["message"]
