"""Downloading a plan over HTTP: GET /plans/{id}/export?format=yaml|csv, with a bearer token."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

import httpx
import pytest

from domain.ledger import Ledger
from service.auth.tokens import create_token
from service.plan_export import export_plan_csv, export_plan_yaml
from service.settings import eventsourcing_env
from tests.conftest import DatabaseFactory
from tests.e2e.demo import HAND_CHECKED, import_demo, wait_for_read_model
from tests.e2e.live import serving


@dataclass(frozen=True)
class Served:
    """The demo plan behind a live server, and what the plan export makes of it read straight from the ledger."""

    url: str
    token: str
    plan_id: UUID
    yaml_text: str
    csv_text: str

    def download(self, plan: object = None, token: str | None = None, **params: str) -> httpx.Response:
        headers = {} if token == "" else {"authorization": f"Bearer {token or self.token}"}
        return httpx.get(f"{self.url}/plans/{plan or self.plan_id}/export", params=params, headers=headers, timeout=30)


@pytest.fixture(scope="module")
def served(new_database: DatabaseFactory) -> Iterator[Served]:
    database_url = new_database()
    plan_id, position = import_demo(database_url)
    # Exported before the server starts, so no two processes set up the event store at once.
    ledger = Ledger(env=eventsourcing_env(database_url))
    try:
        expected_yaml, expected_csv = export_plan_yaml(ledger, plan_id), export_plan_csv(ledger, plan_id)
    finally:
        ledger.close()
    with serving(database_url) as server:
        wait_for_read_model(server.url, position)
        token = create_token(database_url, "analyst@stockton.gov.uk")
        yield Served(server.url, token, plan_id, expected_yaml, expected_csv)


def error_code(response: httpx.Response) -> str:
    code: str = response.json()["errors"][0]["extensions"]["code"]
    return code


@pytest.mark.parametrize("token", ["", "mlt_not-a-real-token"], ids=["no token", "unknown token"])
def test_a_download_without_a_valid_token_is_refused_with_401(served: Served, token: str) -> None:
    response = served.download(token=token)

    assert response.status_code == 401
    assert error_code(response) == "UNAUTHENTICATED"
    assert "Community Safety" not in response.text


def test_the_yaml_download_is_the_plan_file_the_plan_export_writes(served: Served) -> None:
    response = served.download(format="yaml")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/yaml")
    assert response.headers["content-disposition"] == f'attachment; filename="plan-{served.plan_id}.yaml"'
    assert response.text == served.yaml_text


def test_yaml_is_the_default_format(served: Served) -> None:
    assert served.download().text == served.yaml_text


def test_the_yaml_download_imported_into_a_fresh_database_exports_the_same_text(
    served: Served, new_database: DatabaseFactory, tmp_path: Path
) -> None:
    path = tmp_path / "downloaded.yaml"
    path.write_bytes(served.download(format="yaml").content)
    fresh = new_database()

    plan_id, _ = import_demo(fresh, path)

    ledger = Ledger(env=eventsourcing_env(fresh))
    try:
        assert plan_id == served.plan_id
        assert export_plan_yaml(ledger, plan_id) == served.yaml_text
    finally:
        ledger.close()


def test_the_csv_download_lists_the_changes_worked_out_by_hand(served: Served) -> None:
    response = served.download(format="csv")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.text == served.csv_text
    rows = {(r["measure"], r["component"], r["quarter"]): r for r in csv.DictReader(io.StringIO(response.text))}
    found = {(n, c, q): rows[(n, c, q)]["change"] for n, c, q, _ in HAND_CHECKED}
    assert found == {(n, c, q): change for n, c, q, change in HAND_CHECKED}


@pytest.mark.parametrize("fmt", ["xml", "YAML", ""])
def test_an_unknown_format_is_refused_with_400(served: Served, fmt: str) -> None:
    response = served.download(format=fmt)

    assert response.status_code == 400
    assert error_code(response) == "VALIDATION"
    assert "format" in response.json()["errors"][0]["message"]


def test_a_plan_id_that_is_not_an_id_is_refused_with_400(served: Served) -> None:
    response = served.download(plan="not-a-uuid")

    assert response.status_code == 400
    assert error_code(response) == "VALIDATION"


def test_an_unknown_plan_is_404(served: Served) -> None:
    response = served.download(plan=uuid.uuid4(), format="csv")

    assert response.status_code == 404
    assert error_code(response) == "NOT_FOUND"
