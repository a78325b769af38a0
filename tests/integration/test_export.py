"""Exporting plans: the plan file imports back to the same state, and the CSV shows the computed changes."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from uuid import UUID

import pytest

from domain import commands
from domain.definition import Definition
from domain.errors import NoChangeError
from domain.ledger import Ledger, Request
from domain.measure import Measure
from domain.values import Amount, Quarter, Status
from service.plan_export import export_plan_csv, export_plan_yaml
from service.plan_file import import_plan, load_plan_file
from service.settings import eventsourcing_env
from tests.conftest import DatabaseFactory
from tests.e2e.demo import DEMO, FIGURE_DISCREPANCIES
from tests.integration.given import a_definition, a_plan

D = Decimal
REQ = Request(actor="officer@example.org")


@pytest.fixture(scope="module")
def demo(new_database: DatabaseFactory) -> Iterator[tuple[Ledger, UUID]]:
    ledger = Ledger(env=eventsourcing_env(new_database()))
    report = import_plan(ledger, load_plan_file(DEMO), "importer")
    yield ledger, report.plan_id
    ledger.close()


@pytest.fixture
def fresh(new_database: DatabaseFactory) -> Iterator[Ledger]:
    ledger = Ledger(env=eventsourcing_env(new_database()))
    yield ledger
    ledger.close()


def round_trip(text: str, ledger: Ledger, tmp_path: Path) -> tuple[UUID, str]:
    """Import an exported file into `ledger` and export it again."""
    path = tmp_path / "exported.yaml"
    path.write_text(text, encoding="utf-8")
    report = import_plan(ledger, load_plan_file(path), "importer")
    return report.plan_id, export_plan_yaml(ledger, report.plan_id)


def test_the_demo_plan_exported_and_imported_into_an_empty_ledger_exports_the_same_text(
    demo: tuple[Ledger, UUID], fresh: Ledger, tmp_path: Path
) -> None:
    ledger, plan_id = demo
    exported = export_plan_yaml(ledger, plan_id)

    copied_id, again = round_trip(exported, fresh, tmp_path)

    assert copied_id == plan_id
    assert again == exported
    assert "before_quarter: Q2" in exported  # 3.1's redefinition, after the Q1 figure
    assert "reason: 'Published status in the 2012-13 report: ©'" in exported


def test_importing_an_export_into_the_ledger_it_came_from_records_nothing(
    demo: tuple[Ledger, UUID], tmp_path: Path
) -> None:
    ledger, plan_id = demo
    path = tmp_path / "exported.yaml"
    path.write_text(export_plan_yaml(ledger, plan_id), encoding="utf-8")

    report = import_plan(ledger, load_plan_file(path), "importer")

    assert report.commands == ()


def a_measure_with_a_long_history(ledger: Ledger) -> UUID:
    """Revisions, a late figure after an unavailable mark, a baseline reset, a profile, cleared
    commentary, redefinitions that add and drop components, and overrides."""
    plan = a_plan(
        ledger,
        "History",
        partnership="Test Partnership",
        start_year=2013,
        theme=("7", "Everything that can happen"),
        discrepancy_threshold=D("2.0"),
    )

    def definition(title: str, *keys: str) -> Definition:
        components = [(k, k.title()) for k in keys]
        return a_definition(title=title, tolerance="2.5", unit="incidents", components=components)

    first = definition("Reduce incidents", "north", "south")
    m = ledger.handle(commands.DefineMeasure(plan, theme_code="7", number="7.1", definition=first), REQ).id
    ledger.handle(
        commands.SetBaseline(m, "north", Amount(D(100)), period="2012/13", profile=["10", "20", "30", "40"]), REQ
    )
    ledger.handle(commands.SetBaseline(m, "south", Amount(D(60)), note="first count"), REQ)
    ledger.handle(commands.ResetBaseline(m, "south", Amount(D(64)), reason="recounted", period="2012/13"), REQ)
    ledger.handle(
        commands.SubmitFigure(m, "north", Quarter.Q1, Amount(D(12)), reported_change="-5", commentary="early"), REQ
    )
    ledger.handle(
        commands.ReviseFigure(m, "north", Quarter.Q1, Amount(D(13)), reason="late crimes", reported_change="-4"), REQ
    )
    ledger.handle(commands.MarkFigureUnavailable(m, "south", Quarter.Q1, reason="system down"), REQ)
    ledger.handle(commands.MarkFigureUnavailable(m, "north", Quarter.Q2, reason="not yet"), REQ)
    ledger.handle(commands.SubmitFigure(m, "north", Quarter.Q2, Amount(D(25))), REQ)
    ledger.handle(commands.ReviseFigure(m, "north", Quarter.Q2, Amount(D(26)), reason="typo"), REQ)
    ledger.handle(commands.UpdateCommentary(m, Quarter.Q1, "Quarter one: 13 incidents – see note"), REQ)
    ledger.handle(commands.UpdateCommentary(m, Quarter.Q2, "   "), REQ)
    ledger.handle(commands.OverrideStatus(m, Quarter.Q1, Status.AT_RISK, reason="board view"), REQ)
    ledger.handle(commands.ClearStatusOverride(m, Quarter.Q1, reason="withdrawn"), REQ)
    second = definition("Reduce incidents in the north and east", "north", "east")
    ledger.handle(commands.RedefineMeasure(m, second, reason="south merged into east"), REQ)
    ledger.handle(commands.SetBaseline(m, "east", Amount(None, D(3), D(4))), REQ)
    ledger.handle(commands.SubmitFigure(m, "east", Quarter.Q3, Amount(D(70), D(3), D(4))), REQ)
    ledger.handle(commands.SubmitFigure(m, "north", Quarter.Q3, Amount(D(58))), REQ)
    ledger.handle(commands.OverrideStatus(m, Quarter.Q3, Status.NOT_ASSESSED, reason="Officer judgement"), REQ)
    ledger.handle(commands.SubmitFigure(m, "north", Quarter.Q4, Amount(D(99))), REQ)
    third = definition("Reduce incidents (north and east)", "north", "east")
    ledger.handle(commands.RedefineMeasure(m, third, reason="title agreed at year end"), REQ)
    return plan


def test_a_long_history_exported_and_imported_into_an_empty_ledger_exports_the_same_text(
    es_env: dict[str, str], fresh: Ledger, tmp_path: Path
) -> None:
    ledger = Ledger(env=es_env)
    try:
        plan_id = a_measure_with_a_long_history(ledger)
        exported = export_plan_yaml(ledger, plan_id)

        _, again = round_trip(exported, fresh, tmp_path)

        assert again == exported
        for fragment in ("before_quarter: Q3", "after_quarter: Q4", "unavailable: not yet", "Q2: null"):
            assert fragment in exported
        original = ledger.get_measure(Measure.create_id(plan_id, "7.1"))
        copied = fresh.get_measure(Measure.create_id(plan_id, "7.1"))
        assert copied.definitions[-1][0] == original.definitions[-1][0]
        assert [(r.amount, r.stamp.reason) for r in copied.figure_history[("north", Quarter.Q2)]] == [
            (r.amount, r.stamp.reason) for r in original.figure_history[("north", Quarter.Q2)]
        ]
        assert copied.overrides[Quarter.Q3].status is Status.NOT_ASSESSED
    finally:
        ledger.close()


def test_a_revision_that_changed_nothing_recorded_before_that_was_refused_comes_back_from_the_plan_file(
    es_env: dict[str, str], fresh: Ledger, tmp_path: Path
) -> None:
    ledger = Ledger(env=es_env)
    try:
        plan = a_plan(ledger, "Older history", partnership="Test Partnership", start_year=2013)
        m = ledger.handle(commands.DefineMeasure(plan, theme_code="5", number="5.1", definition=a_definition()), REQ).id
        ledger.handle(commands.SubmitFigure(m, "total", Quarter.Q1, Amount(D(12)), commentary="as counted"), REQ)
        # Recorded as a release before revisions had to change something recorded it: the event itself.
        measure = ledger.get_measure(m)
        measure.trigger_event(
            Measure.FigureRevised,
            component="total",
            quarter="Q1",
            value=D(12),
            numerator=None,
            denominator=None,
            reported_change=None,
            commentary="as counted",
            actor="officer@example.org",
            reason="checked again, no change",
        )
        ledger.save(measure)
        ledger.handle(commands.ReviseFigure(m, "total", Quarter.Q1, Amount(D(13)), reason="late crimes"), REQ)
        exported = export_plan_yaml(ledger, plan)

        _, again = round_trip(exported, fresh, tmp_path)

        assert again == exported
        assert "checked again, no change" in exported
        copied = fresh.get_measure(m).figure_history[("total", Quarter.Q1)]
        assert [(r.amount, r.revision, r.stamp.reason) for r in copied] == [
            (r.amount, r.revision, r.stamp.reason) for r in ledger.get_measure(m).figure_history[("total", Quarter.Q1)]
        ]
        assert len(copied) == 3
    finally:
        ledger.close()


def test_a_new_revision_that_changes_nothing_is_still_refused(es_env: dict[str, str]) -> None:
    ledger = Ledger(env=es_env)
    try:
        plan = a_plan(ledger, "Refused", partnership="Test Partnership", start_year=2013)
        m = ledger.handle(commands.DefineMeasure(plan, theme_code="5", number="5.1", definition=a_definition()), REQ).id
        ledger.handle(commands.SubmitFigure(m, "total", Quarter.Q1, Amount(D(12))), REQ)

        with pytest.raises(NoChangeError):
            ledger.handle(commands.ReviseFigure(m, "total", Quarter.Q1, Amount(D(12)), reason="again"), REQ)

        assert len(ledger.get_measure(m).figure_history[("total", Quarter.Q1)]) == 1
    finally:
        ledger.close()


def csv_rows(text: str) -> dict[tuple[str, str, str], dict[str, str]]:
    return {(r["measure"], r["component"], r["quarter"]): r for r in csv.DictReader(io.StringIO(text))}


def test_the_csv_export_lists_the_changes_worked_out_by_hand(demo: tuple[Ledger, UUID]) -> None:
    ledger, plan_id = demo

    rows = csv_rows(export_plan_csv(ledger, plan_id))

    assert len(rows) == 46
    expected = {
        ("2.1", "s27-notices", "Q1"): ("98", "22.4"),
        ("1.3", "maasbt", "Q2"): ("1786.5", "40.3"),
        ("1.3", "police", "Q2"): ("7482.5", "-15.8"),
        ("4.3", "repeat-positive-tests", "Q2"): ("52", "-19.2"),
        ("5.1", "criminal-damage", "Q2"): ("1236", "-19.5"),
        ("5.2", "repeat-victims", "Q2"): ("34", "-23.5"),
        ("6.1", "drrs", "Q1"): ("29.25", "19.7"),
        ("3.4", "harbour-take-up", "Q1"): ("78.26", "-16.4"),
    }
    assert {k: (rows[k]["comparison"], rows[k]["change"]) for k in expected} == expected
    assert rows[("5.1", "criminal-damage", "Q2")]["status"] == "ON_TRACK"
    assert rows[("6.1", "drrs", "Q2")]["measure_status"] == "AT_RISK"


def test_the_csv_export_flags_the_reports_discrepancies(demo: tuple[Ledger, UUID]) -> None:
    ledger, plan_id = demo

    rows = csv_rows(export_plan_csv(ledger, plan_id))

    assert {k for k, r in rows.items() if r["discrepancy"] == "yes"} == FIGURE_DISCREPANCIES
    assert rows[("5.1", "criminal-damage", "Q1")]["discrepancy_reason"] == "reported change -16.3 but computed -20.4"
    assert {k[0] for k, r in rows.items() if r["baseline_discrepancy"]} == {"3.4"}
    assert rows[("4.1", "females-in-treatment", "Q2")]["unavailable_reason"].startswith("Q2 data not available")
