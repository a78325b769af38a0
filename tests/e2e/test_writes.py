"""Writes: who made them, conflicts, retries. Nothing is merged silently or lost."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from tests.e2e import documents as doc
from tests.e2e.given import a_plan, criminal_damage, figure
from tests.e2e.live import GraphQLClient


def submit(mid: str, quarter: str, value: str, **extra: object) -> dict[str, object]:
    return {"input": {"measureId": mid, "component": "total", "quarter": quarter, "value": value, **extra}}


def test_two_submissions_from_the_same_version_give_one_success_and_one_conflict(
    client: GraphQLClient, event_count: Callable[[], int]
) -> None:
    measure = criminal_damage(client, a_plan(client))
    version = measure["version"]
    before = event_count()

    def attempt(quarter: str) -> dict[str, object]:
        return client.post(doc.SUBMIT_FIGURE, submit(measure["id"], quarter, "500", expectedVersion=version)).json()

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(attempt, ["Q1", "Q2"]))

    succeeded = [r for r in results if not r.get("errors")]
    refused = [r for r in results if r.get("errors")]
    assert len(succeeded) == 1 and len(refused) == 1
    error = refused[0]["errors"][0]  # type: ignore[index]
    assert error["extensions"]["code"] == "CONFLICT"
    assert error["extensions"]["currentVersion"] == version + 1
    assert f"version {version + 1}" in error["message"]
    assert event_count() == before + 1
    current = client.execute(doc.MEASURE, {"id": measure["id"]})["measure"]
    assert current["version"] == version + 1
    assert sum(len(c["figures"]) for c in current["components"]) == 1


def test_a_stale_expected_version_is_a_conflict_naming_the_current_version(client: GraphQLClient) -> None:
    measure = criminal_damage(client, a_plan(client))

    errors = client.errors(doc.SUBMIT_FIGURE, submit(measure["id"], "Q1", "492", expectedVersion=1))

    assert errors[0]["extensions"] == {
        "code": "CONFLICT",
        "field": "expectedVersion",
        "currentVersion": measure["version"],
    }


def test_writes_without_a_version_to_the_same_measure_all_land(
    client: GraphQLClient, event_count: Callable[[], int]
) -> None:
    measure = criminal_damage(client, a_plan(client))
    before = event_count()

    def commentary(quarter: str) -> dict[str, object]:
        variables = {"input": {"measureId": measure["id"], "quarter": quarter, "text": f"narrative {quarter}"}}
        return client.post(doc.UPDATE_COMMENTARY, variables).json()

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(commentary, ["Q1", "Q2", "Q3", "Q4"]))

    assert all(not r.get("errors") for r in results), results
    assert event_count() == before + 4


def test_a_retry_with_the_same_idempotency_key_returns_the_first_result_and_records_nothing_new(
    client: GraphQLClient, event_count: Callable[[], int]
) -> None:
    measure = criminal_damage(client, a_plan(client))
    variables = submit(measure["id"], "Q1", "492", idempotencyKey="q1-return-5.1")
    first = client.execute(doc.SUBMIT_FIGURE, variables)["submitFigure"]
    after_first = event_count()

    retry = client.execute(doc.SUBMIT_FIGURE, variables)["submitFigure"]

    assert event_count() == after_first
    assert (retry["position"], retry["version"], retry["replayed"]) == (first["position"], first["version"], True)
    assert figure(retry["measure"], "total", "Q1")["value"] == "492"


def test_an_idempotency_key_reused_for_a_different_request_is_refused(client: GraphQLClient) -> None:
    measure = criminal_damage(client, a_plan(client))
    client.execute(doc.SUBMIT_FIGURE, submit(measure["id"], "Q1", "492", idempotencyKey="k"))

    errors = client.errors(doc.SUBMIT_FIGURE, submit(measure["id"], "Q1", "493", idempotencyKey="k"))

    assert errors[0]["extensions"]["code"] == "VALIDATION"
    assert errors[0]["extensions"]["field"] == "idempotencyKey"


def test_a_mutation_without_a_token_is_unauthenticated_and_writes_nothing(
    client: GraphQLClient, event_count: Callable[[], int]
) -> None:
    measure = criminal_damage(client, a_plan(client))
    before = event_count()

    for anonymous in (client.as_(None), client.as_("mlt_00000000_not-a-real-token")):
        errors = anonymous.errors(doc.SUBMIT_FIGURE, submit(measure["id"], "Q1", "492"))
        assert errors[0]["extensions"]["code"] == "UNAUTHENTICATED"

    assert event_count() == before


def test_every_event_names_the_principal_of_the_token_that_caused_it(client: GraphQLClient, database_url: str) -> None:
    from service.auth.tokens import create_token

    measure = criminal_damage(client, a_plan(client))
    bob = client.as_(create_token(database_url, "bob@police.example"))
    bob.execute(doc.SUBMIT_FIGURE, submit(measure["id"], "Q1", "492"))
    client.execute(
        doc.REVISE_FIGURE,
        {
            "input": {
                "measureId": measure["id"],
                "component": "total",
                "quarter": "Q1",
                "value": "495",
                "reason": "late recording",
            }
        },
    )

    history = client.execute(
        "query($id: ID!) { measure(id: $id) { history { action actor field before after reason quarter } } }",
        {"id": measure["id"]},
    )["measure"]["history"]

    assert history == [
        {
            "action": "MeasureDefined",
            "actor": "alice@stockton.gov.uk",
            "field": "definition",
            "before": None,
            "after": "Reduce Criminal Damage",
            "reason": None,
            "quarter": None,
        },
        {
            "action": "BaselineSet",
            "actor": "alice@stockton.gov.uk",
            "field": "baseline",
            "before": None,
            "after": "2472",
            "reason": None,
            "quarter": None,
        },
        {
            "action": "FigureSubmitted",
            "actor": "bob@police.example",
            "field": "figure",
            "before": None,
            "after": "492",
            "reason": None,
            "quarter": "Q1",
        },
        {
            "action": "FigureRevised",
            "actor": "alice@stockton.gov.uk",
            "field": "figure",
            "before": "492",
            "after": "495",
            "reason": "late recording",
            "quarter": "Q1",
        },
    ]
