"""A bad value reads the same whether it is written in the document or sent as a variable: VALIDATION, the field
at fault in `extensions.field`, and a message `field: what is wrong`, as the domain's own refusals read."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.given import a_plan, criminal_damage
from tests.e2e.live import GraphQLClient

MEASURE = "00000000-0000-0000-0000-000000000000"


@pytest.fixture(scope="module")
def client(shared_client: GraphQLClient) -> GraphQLClient:
    return shared_client


def _revise(fields: str) -> str:
    return f'mutation {{ reviseFigure(input: {{measureId: "{MEASURE}", component: "total", {fields}}}) {{ version }} }}'


REVISE_BY_VARIABLE = "mutation($input: ReviseFigureInput!) { reviseFigure(input: $input) { version } }"
REVISE = {"measureId": MEASURE, "component": "total"}
Case = tuple[str, str, str, dict[str, Any], list[tuple[str, str]]]


def revising(case: str, inline: str, fields: dict[str, Any], expected: list[tuple[str, str]]) -> Case:
    """A case of reviseFigure's input: its fields written `inline` in the document, or sent as `fields`."""
    return (case, _revise(inline), REVISE_BY_VARIABLE, {"input": {**REVISE, **fields}}, expected)


NOT_A_DECIMAL = 'must be a decimal number, such as "-19.5", not'
REVISING: list[Case] = [
    revising("text for a decimal", 'quarter: Q1, reason: "typo", value: "abc"',
             {"quarter": "Q1", "reason": "typo", "value": "abc"}, [("value", f"{NOT_A_DECIMAL} 'abc'")]),
    revising("a boolean for a decimal", 'quarter: Q1, reason: "typo", value: true',
             {"quarter": "Q1", "reason": "typo", "value": True},
             [("value", 'must be a decimal number written as a string, such as "-19.5", not True')]),
    revising("a quarter that is not one", 'quarter: Q5, reason: "typo", value: "5"',
             {"quarter": "Q5", "reason": "typo", "value": "5"},
             [("quarter", "must be one of Q1, Q2, Q3, Q4, not 'Q5'")]),
    revising("a required field left out", 'quarter: Q1, value: "5"', {"quarter": "Q1", "value": "5"},
             [("reason", "is required")]),
    revising("null for a required field", 'quarter: Q1, reason: null, value: "5"',
             {"quarter": "Q1", "reason": None, "value": "5"}, [("reason", "must not be null")]),
    revising("a field the input does not have, and a bad value beside it",
             'quarter: Q1, reason: "typo", value: "x", budget: 5',
             {"quarter": "Q1", "reason": "typo", "value": "x", "budget": 5},
             [("value", f"{NOT_A_DECIMAL} 'x'"),
              ("budget", "is not a field of ReviseFigureInput, which has measureId, component, quarter, reason, "
                         "value, numerator, denominator, reportedChange, commentary, clear, expectedVersion, "
                         "idempotencyKey")]),
]  # fmt: skip
# (case, inline document, the same by variables, variables, [(field, what is wrong)])
CASES: list[Case] = [
    *REVISING,
    (
        "a bad item of a list",
        f'mutation {{ setBaseline(input: {{measureId: "{MEASURE}", component: "total", value: "4", '
        'profile: ["1", "2", "x", "1"]}) { version } }',
        "mutation($input: SetBaselineInput!) { setBaseline(input: $input) { version } }",
        {"input": {**REVISE, "value": "4", "profile": ["1", "2", "x", "1"]}},
        [("profile[2]", f"{NOT_A_DECIMAL} 'x'")],
    ),
    (
        "a field of an object in a list",
        'mutation { defineMeasure(input: {planId: "p", themeCode: "5", number: "5.9", title: "t", '
        'direction: REDUCE, basis: NONE, components: [{label: "Total"}]}) { version } }',
        "mutation($input: DefineMeasureInput!) { defineMeasure(input: $input) { version } }",
        {
            "input": {
                "planId": "p",
                "themeCode": "5",
                "number": "5.9",
                "title": "t",
                "direction": "REDUCE",
                "basis": "NONE",
                "components": [{"label": "Total"}],
            }
        },
        [("components[0].key", "is required")],
    ),
    (
        "text for a page size",
        '{ auditTrail(first: "ten") { pageInfo { hasNextPage } } }',
        "query($n: Int) { auditTrail(first: $n) { pageInfo { hasNextPage } } }",
        {"n": "ten"},
        [("first", "must be a whole number from -2147483648 to 2147483647, not 'ten'")],
    ),
    (
        "a moment without its time zone",
        f'{{ measure(id: "{MEASURE}", asOf: "2012-09-25T09:00:00") {{ id }} }}',
        'query($at: DateTime) { measure(id: "' + MEASURE + '", asOf: $at) { id } }',
        {"at": "2012-09-25T09:00:00"},
        [
            (
                "asOf",
                "must be a date and time with a time zone offset, such as 2012-09-25T09:00:00Z or "
                "2012-09-25T10:00:00+01:00, not '2012-09-25T09:00:00'",
            )
        ],
    ),
    (
        "a date that is not one",
        'mutation { createPlan(input: {partnership: "p", title: "t", year: "2012-13", periodStart: "2012-02-30", '
        'periodEnd: "2013-03-31"}) { version } }',
        "mutation($input: CreatePlanInput!) { createPlan(input: $input) { version } }",
        {
            "input": {
                "partnership": "p",
                "title": "t",
                "year": "2012-13",
                "periodStart": "2012-02-30",
                "periodEnd": "2013-03-31",
            }
        },
        [("periodStart", "must be a date written YYYY-MM-DD, such as 2012-04-01, not '2012-02-30'")],
    ),
    (
        "a required argument left out",
        "{ measure { id } }",
        "query($id: ID!) { measure(id: $id) { id } }",
        {},
        [("id", "is required")],
    ),
]


@pytest.mark.parametrize(("case", "inline", "document", "variables", "expected"), CASES, ids=[c[0] for c in CASES])
def test_a_bad_value_reads_the_same_inline_and_as_a_variable(
    client: GraphQLClient,
    case: str,
    inline: str,
    document: str,
    variables: dict[str, Any],
    expected: list[tuple[str, str]],
) -> None:
    written = client.errors(inline)
    sent = client.errors(document, variables)

    def read(errors: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
        return [(e["extensions"]["code"], e["extensions"]["field"], e["message"]) for e in errors]

    assert read(written) == read(sent) == [("VALIDATION", field, f"{field}: {what}") for field, what in expected]


def test_an_enum_value_in_quotes_is_named_as_the_mistake_it_is(client: GraphQLClient) -> None:
    errors = client.errors(_revise('quarter: "Q1", reason: "typo", value: "5"'))

    assert [(e["extensions"]["field"], e["message"]) for e in errors] == [
        ("quarter", "quarter: is an enum value: write Q1 without quotes")
    ]


def test_a_domain_refusal_reads_as_a_coercion_refusal_does(client: GraphQLClient) -> None:
    plan_id = a_plan(client)
    mid = criminal_damage(client, plan_id)["id"]
    inline = (
        f'mutation {{ submitFigure(input: {{measureId: "{mid}", component: "total", quarter: Q1, value: "-5"}}) '
        "{ version } }"
    )

    errors = client.errors(inline)

    assert [(e["extensions"]["code"], e["extensions"]["field"], e["message"]) for e in errors] == [
        ("VALIDATION", "value", "value: must not be negative, not -5")
    ]
