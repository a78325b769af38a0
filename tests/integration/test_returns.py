"""Quarterly returns: a CSV of one quarter's figures, checked whole before anything is recorded."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from uuid import UUID

import pytest

from domain.assessed import assess_measure
from domain.commands import ReopenReturn
from domain.ledger import Ledger, Request
from domain.measure import Measure
from domain.values import Quarter, Status
from service.plan_file import import_plan, load_plan_file
from service.returns import ReturnsError, import_returns
from service.settings import eventsourcing_env
from tests.conftest import DatabaseFactory

DEMO = Path(__file__).resolve().parents[2] / "examples" / "community-safety-plan-2012-13.yaml"
D = Decimal
BOM = "\ufeff"
HEADER = "measure,component,value,numerator,denominator,reported_change,commentary,unavailable_reason\n"
GOOD_Q3 = (
    BOM
    + HEADER
    + '1.3,police,"9,412",,,-16.1,"9,412 incidents FYTD",\n'
    + " 1.3 , maasbt ,3650,,,,,\n"
    + "3.4,harbour-take-up,,10,20,,,\n"
    + "4.1,females-in-treatment,,,,,,Q3 data not available at the time of compiling this report\n"
    + '5.1,criminal-damage,"2,472",,,,,\n'
)


@pytest.fixture(scope="module")
def demo(new_database: DatabaseFactory) -> Iterator[tuple[Ledger, UUID]]:
    """The demo plan, shared by the tests that must write nothing."""
    ledger = Ledger(env=eventsourcing_env(new_database()))
    yield ledger, import_plan(ledger, load_plan_file(DEMO), "importer").plan_id
    ledger.close()


@pytest.fixture
def own_demo(es_env: dict[str, str]) -> Iterator[tuple[Ledger, UUID]]:
    """The demo plan in the test's own database, for the tests that write."""
    ledger = Ledger(env=es_env)
    yield ledger, import_plan(ledger, load_plan_file(DEMO), "importer").plan_id
    ledger.close()


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def measure(ledger: Ledger, plan_id: UUID, number: str) -> Measure:
    return ledger.get_measure(Measure.create_id(plan_id, number))


def test_a_good_q3_return_with_a_bom_and_thousands_separators_is_recorded(
    own_demo: tuple[Ledger, UUID], tmp_path: Path
) -> None:
    ledger, plan_id = own_demo
    path = write(tmp_path / "q3.csv", GOOD_Q3)

    report = import_returns(ledger, plan_id, "Q3", path, "officer@stockton.gov.uk")

    assert report.events_recorded == 5 and report.skipped == 0
    assert "submitFigure 5.1 criminal-damage Q3 2472" in report.commands
    damage = measure(ledger, plan_id, "5.1")
    figure = damage.figures[("criminal-damage", Quarter.Q3)]
    assert figure.amount is not None and figure.amount.value == D(2472)
    assert figure.stamp.by == "officer@stockton.gov.uk"
    police = measure(ledger, plan_id, "1.3").figures[("police", Quarter.Q3)]
    assert (police.reported_change, police.commentary) == (D("-16.1"), "9,412 incidents FYTD")
    unavailable = measure(ledger, plan_id, "4.1").figures[("females-in-treatment", Quarter.Q3)]
    assert unavailable.unavailable_reason == "Q3 data not available at the time of compiling this report"
    assert assess_measure(damage).quarters[2].status is Status.OFF_TRACK  # 2472 against 1854


def test_importing_the_same_return_again_records_nothing(own_demo: tuple[Ledger, UUID], tmp_path: Path) -> None:
    ledger, plan_id = own_demo
    path = write(tmp_path / "q3.csv", GOOD_Q3)
    import_returns(ledger, plan_id, Quarter.Q3, path, "officer")
    before = ledger.recorder.max_notification_id()

    again = import_returns(ledger, plan_id, Quarter.Q3, path, "officer")

    assert (again.events_recorded, again.skipped, again.commands) == (0, 5, ())
    assert ledger.recorder.max_notification_id() == before


def test_a_changed_figure_with_a_reason_is_recorded_as_a_revision_once_its_quarter_is_reopened(
    own_demo: tuple[Ledger, UUID], tmp_path: Path
) -> None:
    ledger, plan_id = own_demo
    path = write(tmp_path / "q2.csv", "measure,component,value,reason\n5.1,criminal-damage,990,late reclassification\n")
    with pytest.raises(ReturnsError) as locked:
        import_returns(ledger, plan_id, "Q2", path, "officer")
    assert "5.1 Q2 is locked" in locked.value.problems[0].expected
    reopen = ReopenReturn(Measure.create_id(plan_id, "5.1"), Quarter.Q2, reason="late reclassification")
    ledger.handle(reopen, Request("performance.lead@safer-stockton.example"))

    report = import_returns(ledger, plan_id, "Q2", path, "officer")

    assert report.commands == ("reviseFigure 5.1 criminal-damage Q2 990",)
    history = measure(ledger, plan_id, "5.1").figure_history[("criminal-damage", Quarter.Q2)]
    assert [(r.amount.value if r.amount else None, r.stamp.reason) for r in history] == [
        (D(995), None),
        (D(990), "late reclassification"),
    ]


def test_a_dry_run_lists_what_would_be_recorded_and_writes_nothing(demo: tuple[Ledger, UUID], tmp_path: Path) -> None:
    ledger, plan_id = demo
    before = ledger.recorder.max_notification_id()

    report = import_returns(ledger, plan_id, "Q3", write(tmp_path / "q3.csv", GOOD_Q3), "officer", dry_run=True)

    assert report.dry_run and len(report.commands) == 5
    assert ledger.recorder.max_notification_id() == before


BAD_RETURNS = [
    pytest.param(
        HEADER + "5.1,criminal-damage,1482,,,,,\n1.3,police,lots,,,,,\n",
        3,
        "value",
        "must be a number, not 'lots'",
        id="text in a number column",
    ),
    pytest.param(
        HEADER + "5.1,criminal-damage,-5,,,,,\n",
        2,
        "value",
        "must not be negative, not -5",
        id="negative count",
    ),
    pytest.param(
        "measure,value\n5.1,1482\n",
        1,
        "component",
        "is a required column",
        id="missing column",
    ),
    pytest.param(
        HEADER + "9.9,criminal-damage,1482,,,,,\n",
        2,
        "measure",
        "the plan has no measure 9.9",
        id="unknown measure number",
    ),
    pytest.param(
        HEADER + "5.1,arson,1482,,,,,\n",
        2,
        "component",
        "measure 5.1 has no component 'arson' (it has criminal-damage)",
        id="unknown component",
    ),
    pytest.param(
        HEADER + "5.1,criminal-damage,1482,,,,,\n5.1,criminal-damage,1483,,,,,\n",
        3,
        "component",
        "measure 5.1 component criminal-damage is already given on line 2",
        id="duplicate row",
    ),
    pytest.param(
        HEADER + "3.4,harbour-take-up,,21,13,,,\n",
        2,
        "numerator",
        "21 is greater than the denominator 13",
        id="numerator above denominator",
    ),
    pytest.param(
        HEADER + '5.1,criminal-damage,"1,5",,,,,\n',
        2,
        "value",
        "'1,5' is ambiguous: a comma here is not a thousands separator (like 2,472);"
        " write the number with a decimal point and no separators",
        id="decimal comma",
    ),
    pytest.param(
        HEADER + '5.1,criminal-damage,"2.472,5",,,,,\n',
        2,
        "value",
        "'2.472,5' is ambiguous: a comma here is not a thousands separator (like 2,472);"
        " write the number with a decimal point and no separators",
        id="continental separators",
    ),
    pytest.param(
        HEADER + "5.1,criminal-damage,1482,,,,,not counted yet\n",
        2,
        "unavailable_reason",
        "gives both value and unavailable_reason: a figure is either given or unavailable",
        id="a value and an unavailable reason",
    ),
    pytest.param(
        HEADER + "4.1,females-in-treatment,,,,,see note,not yet published\n",
        2,
        "commentary",
        "gives commentary for a figure marked unavailable: an unavailable mark carries only its reason",
        id="commentary on an unavailable figure",
    ),
    pytest.param(
        HEADER + "5.1,criminal-damage,,,,,,\n",
        2,
        "value",
        "give a value, or a numerator and a denominator",
        id="no figure at all",
    ),
    pytest.param(
        HEADER + "5.1,criminal-damage,990,,,,,\n",
        2,
        "value",
        "5.1 criminal-damage Q2 is already recorded as 995, reported change -20; this row says 990:"
        " give a reason in a reason column to record a revision",
        id="a different figure without a reason",
    ),
]


@pytest.mark.parametrize(("text", "line", "column", "expected"), BAD_RETURNS)
def test_a_bad_return_is_refused_whole_naming_the_line_and_column(
    demo: tuple[Ledger, UUID], tmp_path: Path, text: str, line: int, column: str, expected: str
) -> None:
    ledger, plan_id = demo
    path = write(tmp_path / "bad.csv", text)
    before = ledger.recorder.max_notification_id()

    with pytest.raises(ReturnsError) as refused:
        import_returns(ledger, plan_id, "Q2", path, "officer")

    assert [(p.location, p.field, p.expected) for p in refused.value.problems] == [(f"{path}:{line}", column, expected)]
    assert ledger.recorder.max_notification_id() == before


def test_one_bad_row_refuses_the_good_rows_too(demo: tuple[Ledger, UUID], tmp_path: Path) -> None:
    ledger, plan_id = demo
    text = GOOD_Q3 + "6.1,ppos,twelve,,,,,\n"
    path = write(tmp_path / "q3.csv", text)
    before = ledger.recorder.max_notification_id()

    with pytest.raises(ReturnsError) as refused:
        import_returns(ledger, plan_id, "Q3", path, "officer")

    assert [(p.location, p.field) for p in refused.value.problems] == [(f"{path}:7", "value")]
    assert ledger.recorder.max_notification_id() == before
    assert ("criminal-damage", Quarter.Q3) not in measure(ledger, plan_id, "5.1").figures


def test_a_return_that_is_not_utf8_is_refused(demo: tuple[Ledger, UUID], tmp_path: Path) -> None:
    ledger, plan_id = demo
    path = tmp_path / "latin1.csv"
    path.write_bytes((HEADER + "5.1,criminal-damage,1482,,,,Ré-counted,\n").encode("latin-1"))

    with pytest.raises(ReturnsError) as refused:
        import_returns(ledger, plan_id, "Q3", path, "officer")

    [problem] = refused.value.problems
    assert problem.location == f"{path}:2"
    assert "must be UTF-8 text" in problem.expected


@pytest.mark.parametrize("text", ["", BOM, "\n \n"], ids=["no bytes", "only a BOM", "blank lines"])
def test_an_empty_return_is_refused(demo: tuple[Ledger, UUID], tmp_path: Path, text: str) -> None:
    ledger, plan_id = demo

    with pytest.raises(ReturnsError) as refused:
        import_returns(ledger, plan_id, "Q3", write(tmp_path / "empty.csv", text), "officer")

    assert refused.value.problems[0].expected == "the returns file is empty"


def test_a_header_without_rows_is_refused(demo: tuple[Ledger, UUID], tmp_path: Path) -> None:
    ledger, plan_id = demo

    with pytest.raises(ReturnsError) as refused:
        import_returns(ledger, plan_id, "Q3", write(tmp_path / "header.csv", HEADER), "officer")

    assert refused.value.problems[0].expected == "the returns file has a header but no rows"


def test_a_return_of_50_mb_is_refused_before_it_is_read(demo: tuple[Ledger, UUID], tmp_path: Path) -> None:
    ledger, plan_id = demo
    path = tmp_path / "huge.csv"
    with path.open("wb") as stream:
        stream.write(HEADER.encode())
        # Not UTF-8: decoding or reading any row would be refused for that instead.
        stream.write((b"5.1,criminal-damage,1482,,,," + b"\xff" * 995 + b",\n") * (50 * 1024))

    with pytest.raises(ReturnsError) as refused:
        import_returns(ledger, plan_id, "Q3", path, "officer")

    [problem] = refused.value.problems
    assert problem.expected.startswith("the returns file is 50.")
    assert problem.expected.endswith("MB; the limit is 20 MB: split it")
