"""The README's least-privilege role runs the whole service, and cannot rewrite history."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import psycopg.conninfo
import pytest

from service.auth.tokens import create_token
from service.cli import main
from tests.e2e.given import a_plan, criminal_damage
from tests.e2e.live import GraphQLClient, serving

README = Path(__file__).resolve().parents[2] / "README.md"
ROLE = "measure_ledger_service"


def readme_grants(role: str, database: str) -> list[str]:
    """The README's statements for the service role (the owner here is the test's superuser) and the database."""
    text = README.read_text(encoding="utf-8")
    block = re.search(r"least-privilege roles.*?```sql\n(.*?)```", text, re.S)
    assert block is not None, "the README has lost its least-privilege block"
    sql = "\n".join(line.split("--")[0] for line in block.group(1).splitlines())
    statements = [s.strip().replace(ROLE, role) for s in sql.split(";") if ROLE in s]
    return [s.replace("ON DATABASE ledger", f'ON DATABASE "{database}"') for s in statements]


@pytest.fixture
def service_role(database_url: str) -> Iterator[str]:
    role = f"ml_service_{uuid.uuid4().hex[:8]}"
    yield role
    with psycopg.connect(database_url, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone():
            conn.execute(f'DROP OWNED BY "{role}"')
            conn.execute(f'DROP ROLE "{role}"')


def test_the_service_runs_as_the_readme_s_role_which_cannot_change_or_unprotect_events(
    database_url: str, service_role: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The owner creates the event store and the chain, then grants what the README says.
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert main(["verify"]) == 0
    with psycopg.connect(database_url, autocommit=True) as conn:
        for statement in readme_grants(service_role, conn.info.dbname):
            conn.execute(statement)
    as_service = psycopg.conninfo.make_conninfo(database_url, user=service_role)
    monkeypatch.setenv("CREATE_TABLE", "false")
    monkeypatch.setenv("DATABASE_URL", as_service)

    with serving(as_service) as server:
        client = GraphQLClient(server.url, create_token(as_service, "alice@stockton.gov.uk"))
        measure = criminal_damage(client, a_plan(client))
        deadline = time.monotonic() + 20
        while client.execute("{ auditDigest { position } }")["auditDigest"]["position"] < 4:
            assert time.monotonic() < deadline, "the chain did not reach the new events"
            time.sleep(0.05)

    assert measure["components"][0]["baseline"]["value"] == "2472"
    # UPDATE it holds (for the writers' lock), and the trigger refuses; DELETE and TRUNCATE it does not hold.
    with psycopg.connect(as_service) as conn, pytest.raises(psycopg.errors.RaiseException, match="append-only"):
        conn.execute("UPDATE ledger_events SET topic = topic")
    for statement in ("DELETE FROM ledger_events", "TRUNCATE ledger_events", "DELETE FROM event_chain"):
        with psycopg.connect(as_service) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(statement)
    with psycopg.connect(as_service) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege, match="owner"):
        conn.execute("ALTER TABLE ledger_events DISABLE TRIGGER ledger_events_append_only")
    assert main(["verify"]) == 0
    # A rebuild as the service's role is built beside the served read model (it may make its schema).
    capsys.readouterr()
    assert main(["rebuild"]) == 0
    assert "beside the served one" in capsys.readouterr().err
