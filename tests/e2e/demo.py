"""The 2012-13 demo plan, imported straight into a test's database, and waiting for the API to show it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx

from domain.ledger import Ledger
from service.auth.tokens import create_token
from service.plan_file import import_plan, load_plan_file
from service.settings import eventsourcing_env
from tests.e2e.live import GraphQLClient, LiveServer, serving

DEMO = Path(__file__).resolve().parents[2] / "examples" / "community-safety-plan-2012-13.yaml"
STOCKTON = "Safer Stockton Partnership"  # the demo plan's partnership

# docs/rules.md#changes, the 2012-13 plan checked by hand: measure, component, quarter, and the
# computed change rounded half-up to one decimal place (as the API's `change` and the CSV give it)
HAND_CHECKED = [
    ("2.1", "s27-notices", "Q1", "22.4"),
    ("3.2", "stockton-town-centre", "Q1", "-0.4"),
    ("3.2", "yarm", "Q1", "-4.3"),
    ("1.3", "maasbt", "Q1", "33.8"),
    ("1.3", "maasbt", "Q2", "40.3"),
    ("1.3", "police", "Q2", "-15.8"),
    ("4.3", "repeat-positive-tests", "Q1", "-9.6"),
    ("4.3", "repeat-positive-tests", "Q2", "-19.2"),
    ("5.1", "criminal-damage", "Q2", "-19.5"),
    ("5.2", "repeat-victims", "Q2", "-23.5"),
    ("6.1", "hccs", "Q1", "-46.1"),
    ("6.1", "hccs", "Q2", "-34.7"),
    ("6.1", "drrs", "Q1", "19.7"),
    ("6.1", "drrs", "Q2", "12.8"),
]


# docs/rules.md#discrepancies-in-the-report: the figures whose reported change is not the computed one
FIGURE_DISCREPANCIES = {
    ("1.3", "police", "Q1"),
    ("5.1", "criminal-damage", "Q1"),
    ("2.1", "s27-notices", "Q2"),
    ("3.1", "violence", "Q1"),
    ("4.2", "planned-exits", "Q1"),
    ("6.1", "ppos", "Q1"),
    ("6.1", "ppos", "Q2"),
}


def revise_after_publication(client: GraphQLClient, plan_id: UUID) -> None:
    """5.1's Q2 criminal damage figure, 995 when the Q2 board saw it: its return reopened, the figure revised to
    1001 ("late crimes recorded")."""
    measures = client.execute("query($id: ID!) { plan(id: $id) { measures { id number } } }", {"id": str(plan_id)})
    measure_id = next(m["id"] for m in measures["plan"]["measures"] if m["number"] == "5.1")
    reason = "late crimes recorded"
    client.execute(
        "mutation($input: ReturnWithReasonInput!) { reopenReturn(input: $input) { position } }",
        {"input": {"measureId": measure_id, "quarter": "Q2", "reason": reason}},
    )
    revision = {"measureId": measure_id, "component": "criminal-damage", "quarter": "Q2", "value": "1001"}
    client.execute(
        "mutation($input: ReviseFigureInput!) { reviseFigure(input: $input) { position } }",
        {"input": {**revision, "reason": reason}},
    )


def of_stockton(database_url: str, role: str) -> str:
    """A token for `role`@stockton.gov.uk, holding that one role in the demo plan's partnership."""
    return create_token(database_url, f"{role}@stockton.gov.uk", partnership=STOCKTON, roles=[role])


def import_demo(database_url: str, path: Path = DEMO) -> tuple[UUID, int]:
    """Import a plan file as the CLI does; the plan's id and the log position of the last event."""
    ledger = Ledger(env=eventsourcing_env(database_url))
    try:
        report = import_plan(ledger, load_plan_file(path), "importer")
        return report.plan_id, ledger.recorder.max_notification_id() or 0
    finally:
        ledger.close()


def wait_for_read_model(server_url: str, position: int, timeout: float = 30) -> None:
    """Wait until the server's projection has caught up with `position` (its /health says how far it is).

    The import writes to the event store directly, so the read model the API
    answers from lags behind it until the projection has processed every event.
    """
    deadline = time.monotonic() + timeout
    while True:
        seen = int(httpx.get(server_url + "/health", timeout=5).json()["position"])
        if seen >= position:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"the read model is at {seen}, not {position}, after {timeout}s")
        time.sleep(0.05)


@contextmanager
def serving_demo(database_url: str, **settings: Any) -> Iterator[tuple[LiveServer, UUID]]:
    """A live server of the demo plan, imported before it starts (two processes creating the event store's
    tables at once can collide in PostgreSQL), once its read model has caught up; the plan's id."""
    plan_id, position = import_demo(database_url)
    with serving(database_url, **settings) as server:
        wait_for_read_model(server.url, position)
        yield server, plan_id


@contextmanager
def served_to_the_officer(database_url: str, **settings: Any) -> Iterator[tuple[GraphQLClient, UUID]]:
    """The demo served as serving_demo serves it, a client of its officer (an admin of every partnership) and the
    plan's id."""
    with serving_demo(database_url, **settings) as (server, plan_id):
        yield GraphQLClient(server.url, create_token(database_url, "officer@stockton.gov.uk")), plan_id
