"""Property-based fuzzing of the running server: whatever is sent, the answer is a coded GraphQL error or data.

Three generators, all against one live server:
- documents made of the schema's own names and GraphQL punctuation, and valid documents mutated
  (slices dropped, repeated or swapped, names replaced);
- every mutation with its input's fields replaced by hostile JSON (huge numbers, NaN-like strings,
  nested lists, nulls, long text, unknown keys);
- whole request bodies of any JSON shape.

Properties: never an HTTP 500; never a traceback or internal detail; every error has an expected
`extensions.code` (an INTERNAL one means a bug was found); a mutation refused or failed writes nothing.

The default run is short and repeatable (derandomized); ML_FUZZ_EXAMPLES=5000 runs a longer one.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import pytest
from graphql import GraphQLEnumType, GraphQLInputObjectType, GraphQLObjectType, build_schema
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from service.auth.tokens import create_token
from tests.conftest import DatabaseFactory
from tests.e2e import documents as doc
from tests.e2e.given import a_plan, criminal_damage
from tests.e2e.live import GraphQLClient, serving
from tests.e2e.principals import event_count

pytestmark = pytest.mark.slow  # hundreds of generated requests

EXAMPLES = int(os.environ.get("ML_FUZZ_EXAMPLES", "150"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)
CODES = {"UNAUTHENTICATED", "FORBIDDEN", "NOT_FOUND", "CONFLICT", "VALIDATION", "LIMIT_EXCEEDED"}
LEAKS = ("Traceback", 'File "', "site-packages", "object at 0x", "asyncpg", "psycopg")
SCHEMA = build_schema((Path(__file__).resolve().parents[2] / "schema.graphql").read_text())


class Target(NamedTuple):
    url: str
    token: str
    http: httpx.Client  # one keep-alive connection: a new client per request costs 50 ms of TLS set-up
    database_url: str
    plan_id: str
    measure_id: str

    def post(self, query: str, variables: Any) -> httpx.Response:
        # Python's JSON writes NaN and Infinity as bare words, which its reader (the server's) accepts.
        body = json.dumps({"query": query, "variables": variables})
        return self.http.post("/graphql", content=body, headers={"content-type": "application/json"})


@pytest.fixture(scope="module")
def target(new_database: DatabaseFactory) -> Iterator[Target]:
    database_url = new_database()
    # A rate limit would answer most of the fuzz with LIMIT_EXCEEDED and hide the paths behind it.
    with serving(database_url, mutation_rate=1e6, mutation_burst=1_000_000) as live:
        token = create_token(database_url, "fuzz@ledger.example")
        client = GraphQLClient(live.url, token)
        plan_id = a_plan(client)
        measure_id = criminal_damage(client, plan_id)["id"]
        q1 = {"measureId": measure_id, "component": "total", "quarter": "Q1", "value": "492"}
        client.execute(doc.SUBMIT_FIGURE, {"input": q1})
        headers = {"accept": "application/json", "authorization": f"Bearer {token}"}
        with httpx.Client(base_url=live.url, headers=headers, timeout=30) as http:
            yield Target(live.url, token, http, database_url, plan_id, measure_id)


def check(response: httpx.Response, sent: str) -> dict[str, Any]:
    """The properties every answer has; returns its body."""
    assert response.status_code < 500, response.text[:2000]
    body: dict[str, Any] = response.json()
    for leak in LEAKS:
        assert leak in sent or leak not in response.text, response.text[:2000]
    for error in body.get("errors") or []:
        assert error.get("message"), error
        assert (error.get("extensions") or {}).get("code") in CODES, error
    return body


# ----- documents


def schema_names() -> list[str]:
    names: set[str] = set()
    for name, kind in SCHEMA.type_map.items():
        if name.startswith("__"):
            continue
        names.add(name)
        if isinstance(kind, GraphQLObjectType | GraphQLInputObjectType):
            for field_name, field in kind.fields.items():
                names.add(field_name)
                names.update(getattr(field, "args", {}) or {})
        if isinstance(kind, GraphQLEnumType):
            names.update(kind.values)
    return sorted(names)


NAMES = schema_names()
PUNCTUATION = ["{", "}", "(", ")", ":", "$", "!", "[", "]", "...", "=", "@", ",", "|", "&"]
LITERALS = ['"x"', '""', "1", "-1", "1000000", "1e999", "0.5", "null", "true", '"""block"""', '"\\u0000"', "Q1"]
KEYWORDS = ["query", "mutation", "subscription", "fragment", "on", "__typename", "__schema", "__type"]
TOKENS = st.sampled_from(NAMES + PUNCTUATION + LITERALS + KEYWORDS) | st.text(min_size=1, max_size=8)

CORPUS = [
    "{ plans { id title partnership themes { code measures { id number } } } }",
    "query($id: ID!) { plan(id: $id) { id version measures { id status } } }",
    'query($id: ID!) { measure(id: $id, asOf: "2030-01-01T00:00:00Z") { id status history { actor action } } }',
    "query($f: AuditFilter) { auditTrail(filter: $f, first: 5) { edges { cursor node { actor before after } } "
    "pageInfo { hasNextPage endCursor } } }",
    "{ auditDigest { position hash } }",
    doc.MEASURE,
    doc.DASHBOARD,
    doc.SUBMIT_FIGURE,
    doc.REVISE_FIGURE,
    doc.OVERRIDE_STATUS,
    doc.CREATE_PLAN,
    doc.ADD_THEME,
]


@st.composite
def documents(draw: st.DrawFn) -> str:
    if draw(st.booleans()):
        return " ".join(draw(st.lists(TOKENS, min_size=1, max_size=60)))
    text = draw(st.sampled_from(CORPUS))
    for _ in range(draw(st.integers(1, 4))):
        start = draw(st.integers(0, len(text)))
        end = draw(st.integers(start, min(len(text), start + 40)))
        edit = draw(st.sampled_from(["drop", "repeat", "insert", "rename"]))
        if edit == "drop":
            text = text[:start] + text[end:]
        elif edit == "repeat":
            text = text[:end] + text[start:end] + text[end:]
        elif edit == "insert":
            text = text[:start] + " " + draw(TOKENS) + " " + text[start:]
        else:
            words = text.split(" ")
            words[draw(st.integers(0, len(words) - 1))] = draw(st.sampled_from(NAMES))
            text = " ".join(words)
    return text


SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(),
    st.text(max_size=40),
    st.sampled_from(
        [
            "NaN",
            "Infinity",
            "-Infinity",
            "1e999",
            "-0",
            "0x10",
            "1_000",
            " 5 ",
            "\uff19",
            "1e-999",
            "9" * 400,
            "Q5",
            "",
            " ",
            "\x00",
            "<script>alert(1)</script>",
            "'; DROP TABLE ledger_events; --",
            "00000000-0000-0000-0000-000000000000",
            "2012-02-30",
            "2012-04-01T25:00:00Z",
        ]
    ),
    st.integers(min_value=0, max_value=120_000).map(lambda n: "x" * n),
)
JSON = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)


def variables_for(target: Target) -> st.SearchStrategy[dict[str, Any]]:
    ids = st.sampled_from([target.plan_id, target.measure_id, str(uuid.uuid4()), "5.1"])
    return st.dictionaries(st.sampled_from(["id", "f", "input", "n"]), JSON | ids, max_size=3)


@FUZZ
@given(data=st.data())
def test_any_document_gets_data_or_coded_errors_and_never_a_500(target: Target, data: st.DataObject) -> None:
    document = data.draw(documents(), label="document")
    variables = data.draw(variables_for(target), label="variables")
    before = event_count(target.database_url)

    response = target.post(document, variables)

    body = check(response, document + json.dumps(variables, default=str))
    if "data" not in body:  # refused before execution: nothing can have been written
        assert event_count(target.database_url) == before


# ----- mutations with hostile input


ADD_THEME = "mutation($input: AddThemeInput!) { addTheme(input: $input) { position replayed plan { id } } }"
MUTATIONS: dict[str, tuple[str, str, dict[str, Any]]] = {
    # name: (document, which id, a valid-looking input without the id)
    "submitFigure": (doc.SUBMIT_FIGURE, "measureId", {"component": "total", "quarter": "Q2", "value": "10"}),
    "reviseFigure": (
        doc.REVISE_FIGURE,
        "measureId",
        {"component": "total", "quarter": "Q1", "value": "9", "reason": "r"},
    ),
    "markFigureUnavailable": (
        doc.MARK_UNAVAILABLE,
        "measureId",
        {"component": "total", "quarter": "Q3", "reason": "r"},
    ),
    "updateCommentary": (doc.UPDATE_COMMENTARY, "measureId", {"quarter": "Q1", "text": "t"}),
    "overrideStatus": (doc.OVERRIDE_STATUS, "measureId", {"quarter": "Q1", "status": "AT_RISK", "reason": "r"}),
    "clearStatusOverride": (doc.CLEAR_OVERRIDE, "measureId", {"quarter": "Q1", "reason": "r"}),
    "setBaseline": (doc.SET_BASELINE, "measureId", {"component": "total", "value": "1"}),
    "resetBaseline": (doc.RESET_BASELINE, "measureId", {"component": "total", "value": "1", "reason": "r"}),
    "redefineMeasure": (
        doc.REDEFINE_MEASURE,
        "measureId",
        {
            "title": "t",
            "direction": "REDUCE",
            "basis": "YTD_PRO_RATA",
            "components": [{"key": "total", "label": "l"}],
            "reason": "r",
        },
    ),
    "defineMeasure": (
        doc.DEFINE_MEASURE,
        "planId",
        {
            "themeCode": "5",
            "number": "5.9",
            "title": "t",
            "direction": "REDUCE",
            "basis": "NONE",
            "components": [{"key": "total", "label": "l"}],
        },
    ),
    "addTheme": (ADD_THEME, "planId", {"code": "6", "title": "t"}),
    "createPlan": (
        doc.CREATE_PLAN,
        "partnership",
        {"title": "t", "year": "2013-14", "periodStart": "2013-04-01", "periodEnd": "2014-03-31"},
    ),
}
EXTRA_FIELDS = ["expectedVersion", "idempotencyKey", "numerator", "denominator", "profile", "tolerance", "bogus"]


@st.composite
def hostile_inputs(draw: st.DrawFn, target: Target) -> tuple[str, dict[str, Any]]:
    name = draw(st.sampled_from(sorted(MUTATIONS)))
    document, id_field, base = MUTATIONS[name]
    own_id = {"measureId": target.measure_id, "planId": target.plan_id, "partnership": "Fuzz Partnership"}[id_field]
    values: dict[str, Any] = {id_field: own_id, **base}
    for key in draw(st.lists(st.sampled_from(sorted(values) + EXTRA_FIELDS), min_size=1, max_size=4, unique=True)):
        if draw(st.integers(0, 5)) == 0:
            values.pop(key, None)
        else:
            values[key] = draw(JSON)
    return document, {"input": values} if draw(st.integers(0, 9)) else draw(JSON)


@FUZZ
@given(data=st.data())
def test_a_mutation_with_hostile_input_is_refused_with_a_code_and_writes_nothing(
    target: Target, data: st.DataObject
) -> None:
    document, variables = data.draw(hostile_inputs(target), label="mutation")
    sent = json.dumps(variables, default=str)
    before = event_count(target.database_url)

    response = target.post(document, variables)

    body = check(response, sent)
    after = event_count(target.database_url)
    if body.get("errors"):
        assert after == before, body["errors"]
    else:
        [payload] = body["data"].values()
        # A retry with a used idempotency key records nothing; a first use records the key too.
        assert after == before if payload["replayed"] else after > before


# ----- whole request bodies


@FUZZ
@given(data=st.data())
def test_any_request_body_gets_a_coded_graphql_error_body(target: Target, data: st.DataObject) -> None:
    shape = data.draw(
        st.one_of(
            JSON,
            st.fixed_dictionaries(
                {"query": st.one_of(documents(), JSON)},
                optional={"variables": JSON, "operationName": JSON, "extensions": JSON},
            ),
        ),
        label="body",
    )
    content = json.dumps(shape, default=str)
    method = data.draw(st.sampled_from(["POST", "GET"]), label="method")

    if method == "POST":
        response = target.http.post("/graphql", content=content, headers={"content-type": "application/json"})
    else:
        # A URL longer than the HTTP server's limits is refused before it reaches the application.
        assume(len(content) < 4000)
        pairs = shape.items() if isinstance(shape, dict) else []
        params = {k: v if isinstance(v, str) else json.dumps(v) for k, v in pairs}
        response = target.http.get("/graphql", params=params)

    check(response, content)
