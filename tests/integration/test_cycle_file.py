"""The reporting cycle in plan files: the demo's story as recorded, its export, and the files refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import pytest
from eventsourcing.utils import get_topic

from domain.ledger import Ledger
from domain.measure import Measure
from domain.returns import ReturnState
from domain.values import Quarter
from service.plan_export import export_plan_yaml, measures_of_plan
from service.plan_file import PlanFileError, import_plan, load_plan_file
from service.settings import eventsourcing_env
from tests.conftest import DatabaseFactory

DEMO = Path(__file__).resolve().parents[2] / "examples" / "community-safety-plan-2012-13.yaml"
LEAD = "performance.lead@safer-stockton.example"
APPROVED_BY_LEAD = f"            - {{action: approve, by: {LEAD}}}\n"


@pytest.fixture(scope="module")
def demo(new_database: DatabaseFactory) -> Iterator[tuple[Ledger, UUID]]:
    ledger = Ledger(env=eventsourcing_env(new_database()))
    yield ledger, import_plan(ledger, load_plan_file(DEMO), "importer").plan_id
    ledger.close()


def test_the_demo_publishes_q1_and_q2_with_every_return_approved_and_leaves_q3_open(
    demo: tuple[Ledger, UUID],
) -> None:
    ledger, plan_id = demo
    plan = ledger.get_plan(plan_id)
    measures = measures_of_plan(ledger, plan_id)

    assert [(p.quarter, p.presented_on.isoformat(), p.forced) for p in plan.publications] == [
        (Quarter.Q1, "2012-09-25", False),
        (Quarter.Q2, "2012-11-27", False),
    ]
    assert plan.collections[Quarter.Q3].due_on.isoformat() == "2013-01-31" and not plan.published(Quarter.Q3)
    for m in measures:
        assert m.owner is not None
        for q in (Quarter.Q1, Quarter.Q2):
            submitted, approved = m.return_history[q]
            assert (submitted.state, submitted.stamp.by) == (ReturnState.SUBMITTED, m.owner.principal)
            assert (approved.state, approved.stamp.by) == (ReturnState.APPROVED, LEAD)
        assert m.return_state(Quarter.Q3) is ReturnState.OUTSTANDING


def test_the_q1_publication_fixes_a_position_before_any_q2_figure(demo: tuple[Ledger, UUID]) -> None:
    ledger, plan_id = demo
    q1 = ledger.get_plan(plan_id).publications[0]
    topics = [get_topic(Measure.FigureSubmitted), get_topic(Measure.FigureMarkedUnavailable)]

    later = [
        ledger.mapper.to_domain_event(n)
        for n in ledger.recorder.select_notifications(start=1, limit=10_000, topics=topics)
        if n.id > q1.position
    ]

    assert later and {f.quarter for f in later} == {"Q2"}


def test_4_3_and_5_2_are_baseline_resets_with_the_reports_reason_and_3_3_keeps_its_baseline_text(
    demo: tuple[Ledger, UUID],
) -> None:
    ledger, plan_id = demo

    for number, key in (("4.3", "repeat-positive-tests"), ("5.2", "repeat-victims")):
        (only,) = ledger.get_measure(Measure.create_id(plan_id, number)).baselines[key]
        assert only.is_reset and only.stamp.reason is not None
        assert only.stamp.reason.startswith("baseline re-set using new repeat identification")
    description = ledger.get_measure(Measure.create_id(plan_id, "3.3")).definition.description
    assert description is not None and "Baseline: 23 repeat perpetrators in 2011/12" in description


def test_the_export_carries_owners_returns_due_dates_and_publications(demo: tuple[Ledger, UUID]) -> None:
    ledger, plan_id = demo

    exported = export_plan_yaml(ledger, plan_id)

    assert "agency: Cleveland Police" in exported
    assert f"- action: approve\n        by: {LEAD}" in exported
    assert "cycle:\n  Q1:\n    due_on: '2012-07-31'" in exported
    assert "title: Safer Stockton Partnership board, 27 November 2012" in exported


def demo_with(tmp_path: Path, *changes: tuple[str, str]) -> Path:
    """The demo plan file with the first occurrence of each text replaced."""
    text = DEMO.read_text(encoding="utf-8")
    for old, new in changes:
        assert old in text
        text = text.replace(old, new, 1)
    path = tmp_path / "plan.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_file_publishing_with_a_return_not_approved_is_refused_unless_forced_with_a_reason(
    tmp_path: Path, new_database: DatabaseFactory
) -> None:
    submitted = "            - {action: submit, by: police.analyst@cleveland-police.example}\n"
    unapproved = (submitted + APPROVED_BY_LEAD, submitted)  # 1.3's Q1 return, submitted only

    with pytest.raises(PlanFileError) as refused:
        load_plan_file(demo_with(tmp_path, unapproved))
    (problem,) = refused.value.problems
    assert problem.field == "cycle.Q1.publications[0].force" and "1.3 (SUBMITTED)" in problem.expected

    board = "presented_on: 2012-09-25,"
    forced = demo_with(tmp_path, unapproved, (board, board + " forced: true, reason: 1.3 still with the police,"))
    ledger = Ledger(env=eventsourcing_env(new_database()))
    try:
        plan_id = import_plan(ledger, load_plan_file(forced), "importer").plan_id
        q1 = ledger.get_plan(plan_id).publications[0]
    finally:
        ledger.close()
    assert q1.forced and q1.stamp.reason == "1.3 still with the police"
    assert [(o.number, o.state) for o in q1.outstanding] == [("1.3", "SUBMITTED")]


def test_a_file_whose_submitter_approves_their_own_return_is_refused_at_its_line(tmp_path: Path) -> None:
    own = "            - {action: approve, by: asb.officer@stockton-council.example}\n"
    path = demo_with(tmp_path, (APPROVED_BY_LEAD, own))

    with pytest.raises(PlanFileError) as refused:
        load_plan_file(path)

    problem, unpublished = refused.value.problems  # and so Q1 has a return outstanding
    assert "1.1 (SUBMITTED)" in unpublished.expected
    line = next(i for i, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if text == own.rstrip())
    assert problem.location.endswith(f":{line}") and "may not also approve it" in problem.expected
