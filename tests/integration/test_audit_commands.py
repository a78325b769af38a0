"""The auditor's commands: `measure-ledger audit-export` and `measure-ledger verify`."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from domain.commands import ReviseFigure
from domain.ledger import Ledger, Request
from domain.values import Quarter, parse_amount
from projections.ledger_store.event_store import open_ledger
from projections.runner import catch_up_if_leader
from service.cli import main
from tests.integration.test_chain import record_figures

BOB = Request("bob@police.example")


@pytest.fixture
def recorded(es_env: dict[str, str], database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Ledger]:
    """Eight events, the last one bob's; the read model and the chain caught up; DATABASE_URL set."""
    ledger = open_ledger(es_env)
    measure = record_figures(ledger, quarters=3)
    ledger.handle(ReviseFigure(measure, "total", Quarter.Q3, parse_amount("1400", None, None), reason="late"), BOB)
    catch_up_if_leader(es_env)
    monkeypatch.setenv("DATABASE_URL", database_url)
    yield ledger
    ledger.close()


def test_audit_export_writes_the_selected_entries_as_json_lines_or_csv(
    recorded: Ledger, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["audit-export", "--format", "jsonl", "--actor", "bob@police.example"]) == 0
    out, err = capsys.readouterr()
    assert [json.loads(line) for line in out.splitlines()] == [
        {
            "position": 8,
            "recordedAt": json.loads(out)["recordedAt"],
            "actor": "bob@police.example",
            "action": "FigureRevised",
            "planId": json.loads(out)["planId"],
            "measureId": json.loads(out)["measureId"],
            "measureNumber": "5.1",
            "component": "total",
            "quarter": "Q3",
            "field": "figure",
            "before": "1476",
            "after": "1400",
            "reason": "late",
            "changes": [{"field": "value", "before": "1476", "after": "1400"}],
        }
    ]
    assert "exported 1 audit entries" in err

    target = tmp_path / "trail.csv"
    assert main(["audit-export", "--action", "FigureSubmitted", "--order", "newest_first", "-o", str(target)]) == 0
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))
    assert [(r["position"], r["quarter"], r["after"]) for r in rows] == [
        ("7", "Q3", "1476"),
        ("6", "Q2", "984"),
        ("5", "Q1", "492"),
    ]


def test_audit_export_refuses_a_filter_it_cannot_read(recorded: Ledger, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit-export", "--from", "2012-09-25"]) == 2
    assert "recordedFrom" in capsys.readouterr().err


def test_verify_says_ok_with_the_head_to_publish_and_checks_a_published_digest(
    recorded: Ledger, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["verify"]) == 0
    out = capsys.readouterr().out
    assert "OK: 8 stored events match the chain up to position 8" in out
    head = out.split("chain head (publish this): ")[1].split()[0]

    assert main(["verify", "--digest", head]) == 0
    assert "matches the published digest" in capsys.readouterr().out
    assert main(["verify", "--digest", "3:" + "0" * 64]) == 1
    assert "does NOT match" in capsys.readouterr().out
    assert main(["verify", "--digest", "3:xyz"]) == 2


def test_verify_names_the_first_position_tampered_with(
    recorded: Ledger, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with psycopg.connect(database_url) as conn:
        conn.execute("ALTER TABLE ledger_events DISABLE TRIGGER ledger_events_append_only")
        conn.execute("DELETE FROM ledger_events WHERE notification_id = 5")

    assert main(["verify"]) == 1
    assert "TAMPERED at position 5" in capsys.readouterr().out


def test_verify_with_a_digest_the_store_does_not_match_says_so_first_and_never_ok(
    recorded: Ledger, capsys: pytest.CaptureFixture[str]
) -> None:
    for digest in ("3:" + "0" * 64, "99:" + "a" * 64):
        assert main(["verify", "--digest", digest]) == 1

        first, *rest = capsys.readouterr().out.splitlines()
        assert first.startswith("DIGEST MISMATCH: "), first
        assert digest.split(":")[0] in first
        assert not any(line.startswith("OK") for line in [first, *rest])
