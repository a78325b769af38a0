"""Importing plan files: the real 2012-13 plan, twice, and files that must be refused whole."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from uuid import UUID

import pytest

from domain.assessed import assess_measure
from domain.commands import ReviseFigure, SubmitFigure
from domain.ledger import Ledger, Request
from domain.measure import Measure
from domain.rules import discrepancies, round1
from domain.values import Amount, Quarter, Status
from service.plan_export import measures_of_plan
from service.plan_file import ImportReport, PlanFileError, import_plan, load_plan_file
from service.settings import eventsourcing_env
from tests.cases import named
from tests.conftest import DatabaseFactory
from tests.e2e.demo import DEMO, FIGURE_DISCREPANCIES

D = Decimal

SMALL = """\
format: measure-ledger/plan@1
partnership: Test Partnership
plan:
  title: Test Plan
  year: "2012-13"
  period: {start: 2012-04-01, end: 2013-03-31}
themes:
  - code: "5"
    title: Criminal damage targets
    measures:
      - number: "5.1"
        title: Reduce Criminal Damage
        direction: REDUCE
        basis: YTD_PRO_RATA
        components:
          - key: criminal-damage
            label: Criminal damage offences
            baseline: {value: "2472", period: "2011/12"}
            figures:
              Q1: {value: "492", reported_change: "-16.3"}
              Q2: {value: "995"}
"""
MEASURE = "themes[0].measures[0]"
FIXED = 'value: "490"'
FIGURES = f"{MEASURE}.components[0].figures"


@pytest.fixture(scope="module")
def demo(new_database: DatabaseFactory) -> Iterator[tuple[Ledger, ImportReport, list[tuple[int, int]]]]:
    """The demo plan imported once into its own database, shared by the tests that only read."""
    ledger = Ledger(env=eventsourcing_env(new_database()))
    calls: list[tuple[int, int]] = []
    report = import_plan(
        ledger, load_plan_file(DEMO), "importer", progress=lambda done, total: calls.append((done, total))
    )
    yield ledger, report, calls
    ledger.close()


@pytest.fixture
def ledger(es_env: dict[str, str]) -> Iterator[Ledger]:
    """The application on the test's own database, as `measure-ledger import` opens it."""
    app = Ledger(env=es_env)
    yield app
    app.close()


def measure(ledger: Ledger, plan_id: UUID, number: str) -> Measure:
    return ledger.get_measure(Measure.create_id(plan_id, number))


def test_importing_the_demo_plan_records_its_six_themes_and_seventeen_measures(
    demo: tuple[Ledger, ImportReport, list[tuple[int, int]]],
) -> None:
    ledger, report, calls = demo

    plan = ledger.get_plan(report.plan_id)
    measures = measures_of_plan(ledger, report.plan_id)

    assert plan.title == "Community Safety Plan 2012-13"
    assert [t.code for t in plan.themes] == ["1", "2", "3", "4", "5", "6"]
    assert len(measures) == 17
    assert [m.number for m in measures][:3] == ["1.1", "1.2", "1.3"]
    assert report.events_recorded == len(report.commands) == ledger.recorder.max_notification_id()
    assert calls[0] == (0, report.events_recorded) and calls[-1] == (report.events_recorded,) * 2


def test_importing_the_same_file_again_records_nothing_new(
    demo: tuple[Ledger, ImportReport, list[tuple[int, int]]],
) -> None:
    ledger, report, _ = demo
    before = ledger.recorder.max_notification_id()

    again = import_plan(ledger, load_plan_file(DEMO), "importer")

    assert again.events_recorded == 0 and again.commands == ()
    assert again.plan_id == report.plan_id
    assert ledger.recorder.max_notification_id() == before


def test_a_dry_run_lists_the_commands_and_writes_nothing(ledger: Ledger) -> None:
    report = import_plan(ledger, load_plan_file(DEMO), "importer", dry_run=True)

    assert report.dry_run and report.events_recorded == 0
    assert str(report) == f"dry run: {len(report.commands)} event(s) would be recorded for plan {report.plan_id}"
    assert report.commands[0] == "createPlan Safer Stockton Partnership / Community Safety Plan 2012-13 (2012-13)"
    assert "submitFigure 5.1 criminal-damage Q2 995" in report.commands
    assert "redefineMeasure 3.1 Maintain a reduction in Violence with Injury" in report.commands
    assert ledger.recorder.max_notification_id() is None


# measure, component, quarter, comparison, computed change (rounded) — docs/rules.md#changes, checked by hand
HAND_CHECKED = [
    ("2.1", "s27-notices", "Q1", D(98), D("22.4")),
    ("3.2", "stockton-town-centre", "Q1", D("126.5"), D("-0.4")),
    ("3.2", "yarm", "Q1", D("11.5"), D("-4.3")),
    ("1.3", "maasbt", "Q1", D("893.25"), D("33.8")),
    ("1.3", "maasbt", "Q2", D("1786.5"), D("40.3")),
    ("1.3", "police", "Q2", D("7482.5"), D("-15.8")),
    ("4.3", "repeat-positive-tests", "Q1", D(52), D("-9.6")),
    ("4.3", "repeat-positive-tests", "Q2", D(52), D("-19.2")),
    ("5.1", "criminal-damage", "Q2", D(1236), D("-19.5")),
    ("5.2", "repeat-victims", "Q2", D(34), D("-23.5")),
    ("6.1", "hccs", "Q1", D("61.25"), D("-46.1")),
    ("6.1", "hccs", "Q2", D("122.5"), D("-34.7")),
    ("6.1", "drrs", "Q1", D("29.25"), D("19.7")),
    ("6.1", "drrs", "Q2", D("58.5"), D("12.8")),
]


@pytest.mark.parametrize(("number", "component", "quarter", "comparison", "change"), HAND_CHECKED)
def test_the_imported_figures_give_the_changes_worked_out_by_hand(
    demo: tuple[Ledger, ImportReport, list[tuple[int, int]]],
    number: str,
    component: str,
    quarter: str,
    comparison: Decimal,
    change: Decimal,
) -> None:
    ledger, report, _ = demo

    assessed = assess_measure(measure(ledger, report.plan_id, number))

    found = next(f for f in assessed.figures if f.component == component and f.quarter.value == quarter)
    assert found.assessment.comparison == comparison
    assert found.assessment.change is not None and round1(found.assessment.change) == change


def test_the_rates_of_3_4_come_from_their_numerators_and_denominators(
    demo: tuple[Ledger, ImportReport, list[tuple[int, int]]],
) -> None:
    ledger, report, _ = demo

    assessed = assess_measure(measure(ledger, report.plan_id, "3.4"))

    measured = [round1(f.assessment.measured) for f in assessed.figures if f.assessment.measured is not None]
    assert measured == [D("61.9"), D("46.2")]


def test_exactly_the_eight_discrepancies_of_the_report_are_flagged(
    demo: tuple[Ledger, ImportReport, list[tuple[int, int]]],
) -> None:
    ledger, report, _ = demo
    flagged: set[tuple[str, str, str]] = set()

    for m in measures_of_plan(ledger, report.plan_id):
        assessed = assess_measure(m)
        flagged |= {(m.number, f.component, f.quarter.value) for f in assessed.figures if f.assessment.discrepancy}
        for key, records in m.baselines.items():
            # A whole-measure assessment covers figures only; a baseline's stated rate is checked with the same rule.
            if discrepancies(m.definition.basis, records[-1].amount, None, None, m.discrepancy_threshold):
                flagged.add((m.number, key, "baseline"))

    assert flagged == FIGURE_DISCREPANCIES | {("3.4", "harbour-take-up", "baseline")}


def test_a_published_status_that_differs_from_the_computed_one_is_recorded_as_an_override_naming_both(
    demo: tuple[Ledger, ImportReport, list[tuple[int, int]]],
) -> None:
    ledger, report, _ = demo
    overridden = {m.number: m.overrides[Quarter.Q2] for m in measures_of_plan(ledger, report.plan_id) if m.overrides}

    assert sorted(overridden) == ["1.1", "1.2", "2.2", "3.3", "3.4", "6.1"]
    assert overridden["1.1"].status is Status.ON_TRACK
    assert overridden["1.1"].stamp.reason == (
        "Published status in the 2012-13 report: © (ON_TRACK); computed NOT_ASSESSED"
    )
    assert overridden["6.1"].stamp.reason == (
        "Published status in the 2012-13 report: <u></u> (AT_RISK); computed OFF_TRACK"
    )
    assessed = assess_measure(measure(ledger, report.plan_id, "6.1"))
    assert (assessed.status, assessed.quarters[1].computed_status) == (Status.AT_RISK, Status.OFF_TRACK)


def test_the_redefinition_of_3_1_comes_after_the_q1_figure_and_keeps_the_earlier_definition(
    demo: tuple[Ledger, ImportReport, list[tuple[int, int]]],
) -> None:
    ledger, report, _ = demo

    m = measure(ledger, report.plan_id, "3.1")

    assert [d.title for d, _ in m.definitions] == [
        "Maintain a reduction in Most Serious Violent Crime",
        "Maintain a reduction in Violence with Injury",
    ]
    redefined_at = m.definitions[1][1].at
    assert m.figures[("violence", Quarter.Q1)].stamp.at < redefined_at < m.figures[("violence", Quarter.Q2)].stamp.at


def test_a_file_that_disagrees_with_what_is_recorded_is_refused_and_nothing_is_written(
    demo: tuple[Ledger, ImportReport, list[tuple[int, int]]], tmp_path: Path
) -> None:
    ledger, _, _ = demo
    changed = DEMO.read_text(encoding="utf-8").replace('value: "492"', FIXED)
    changed = changed.replace('- number: "6.2"', '- number: "6.3"')  # a new measure that alone would be fine
    path = write(tmp_path / "changed.yaml", changed)

    [problem] = refused_import(ledger, path).problems
    assert problem.expected == (
        "5.1 criminal-damage Q1 figure is already recorded as 492; the file says 490:"
        " add a revision to the file instead"
    )
    assert problem.field == "themes[4].measures[0].components[0].figures.Q1"
    assert problem.location == f"{path}:{line_of(changed, FIXED)}"


def test_a_revision_added_to_the_file_is_recorded_on_the_next_import(ledger: Ledger, tmp_path: Path) -> None:
    first = write(tmp_path / "first.yaml", SMALL)
    import_plan(ledger, load_plan_file(first), "importer")
    revised = SMALL.replace(
        'Q2: {value: "995"}',
        'Q2: {value: "995", revisions: [{value: "990", reason: "late crimes reclassified"}]}',
    )

    report = import_plan(ledger, load_plan_file(write(tmp_path / "revised.yaml", revised)), "importer")

    assert report.commands == ("reviseFigure 5.1 criminal-damage Q2 990",)
    plan_id = report.plan_id
    history = measure(ledger, plan_id, "5.1").figure_history[("criminal-damage", Quarter.Q2)]
    assert [(r.amount.value if r.amount else None, r.stamp.reason) for r in history] == [
        (D(995), None),
        (D(990), "late crimes reclassified"),
    ]


def test_a_file_that_lacks_a_revision_recorded_since_is_refused(ledger: Ledger, tmp_path: Path) -> None:
    path = write(tmp_path / "small.yaml", SMALL)
    plan_id = import_plan(ledger, load_plan_file(path), "importer").plan_id
    m = Measure.create_id(plan_id, "5.1")
    ledger.handle(ReviseFigure(m, "criminal-damage", Quarter.Q2, Amount(D(990)), reason="recount"), Request("officer"))
    ledger.handle(SubmitFigure(m, "criminal-damage", Quarter.Q3, Amount(D(1400))), Request("officer"))

    [problem] = refused_import(ledger, path).problems  # the Q3 figure, which the file does not mention, is no problem

    assert problem.expected == (
        "measure 5.1 has 2 figure record(s) for criminal-damage Q2 but the file lists 1: add the later ones to the file"
    )


# -- files refused whole, with where and why -----------------------------------------


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def line_of(text: str, fragment: str) -> int:
    return text[: text.index(fragment)].count("\n") + 1


def refusal(path: Path) -> PlanFileError:
    """What reading the plan file at `path` is refused with."""
    with pytest.raises(PlanFileError) as refused:
        load_plan_file(path)
    return refused.value


def refused_import(ledger: Ledger, path: Path) -> PlanFileError:
    """What importing the plan file at `path` is refused with, having checked that nothing was recorded."""
    before = ledger.recorder.max_notification_id()
    with pytest.raises(PlanFileError) as refused:
        import_plan(ledger, load_plan_file(path), "importer")
    assert ledger.recorder.max_notification_id() == before, "a refused file records nothing"
    return refused.value


def edited(old: str, new: str) -> str:
    """SMALL with `old` replaced by `new`; `old` must be there, so that no case tests an unchanged file."""
    assert old in SMALL, old
    return SMALL.replace(old, new)


# (case, the file, the line and the field at fault, what is wrong with it)
BAD_FILES = [
    ("missing key", edited("        direction: REDUCE\n", ""), 11, f"{MEASURE}.direction", "is required"),
    ("unknown direction", edited("direction: REDUCE", "direction: DOWN"), 13, f"{MEASURE}.direction",
     "must be one of REDUCE, INCREASE, MAINTAIN, MONITOR, not 'DOWN'"),
    ("text in a number field", edited('{value: "995"}', '{value: "nine hundred"}'), 21, f"{FIGURES}.Q2.value",
     "must be a number, not 'nine hundred'"),
    ("negative count", edited('{value: "995"}', '{value: "-995"}'), 21, f"{FIGURES}.Q2.value",
     "must not be negative, not -995"),
    ("duplicate measure number", SMALL + SMALL[SMALL.index('      - number: "5.1"') :], 22,
     "themes[0].measures[1].number", "measure 5.1 is already given at {path}:11"),
    ("duplicate component key",
     edited("label: Criminal damage offences\n", "label: Criminal damage offences\n          - key: criminal-damage\n"
            "            label: Again\n"),
     18, f"{MEASURE}.components[1].key", "'criminal-damage' appears twice"),
    ("unknown quarter", edited('Q2: {value: "995"}', 'Q5: {value: "995"}'), 21, f"{FIGURES}.Q5",
     "must be one of Q1, Q2, Q3, Q4, not 'Q5'"),
    ("unknown format", edited("plan@1", "plan@2"), 1, "format",
     "must be 'measure-ledger/plan@1', the only format this version reads"),
    ("not a mapping", "- a list\n- not a plan\n", 1, "",
     "must be a mapping with the keys format, partnership, plan, themes, cycle"),
    ("misspelt key", edited('reported_change: "-16.3"', 'reported_chnage: "-16.3"'), 20,
     f"{FIGURES}.Q1.reported_chnage",
     "is not a key here; expected value, numerator, denominator, reported_change, commentary, unavailable, revisions"),
    ("both a figure and unavailable", edited('{value: "995"}', '{value: "995", unavailable: "not yet"}'), 21,
     f"{FIGURES}.Q2.value", "an entry marked unavailable has no figure: give one or other"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "line", "field", "expected"), named(BAD_FILES))
def test_a_bad_plan_file_is_refused_with_the_place_and_the_reason(
    demo: tuple[Ledger, ImportReport, list[tuple[int, int]]],
    tmp_path: Path,
    text: str,
    line: int,
    field: str,
    expected: str,
) -> None:
    ledger, _, _ = demo
    path = write(tmp_path / "bad.yaml", text)

    refused = refused_import(ledger, path)

    problems = [(p.location, p.field, p.expected) for p in refused.problems]
    assert problems == [(f"{path}:{line}", field, expected.format(path=path))]
    assert str(refused).startswith("refused, nothing recorded: 1 problem(s)")


def test_every_problem_in_a_file_is_listed_not_just_the_first(tmp_path: Path) -> None:
    text = (
        SMALL.replace("direction: REDUCE", "direction: DOWN")
        .replace('{value: "492", reported_change: "-16.3"}', '{value: "492", reported_change: "lots"}')
        .replace('{value: "995"}', '{value: "-995"}')
    )
    path = write(tmp_path / "bad.yaml", text)

    assert [(p.location, p.field) for p in refusal(path).problems] == [
        (f"{path}:13", f"{MEASURE}.direction"),
        (f"{path}:20", f"{FIGURES}.Q1.reported_change"),
        (f"{path}:21", f"{FIGURES}.Q2.value"),
    ]


def test_a_file_that_is_not_utf8_is_refused_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(SMALL.replace("Test Plan", "Test Plan ©").encode("latin-1"))

    [problem] = refusal(path).problems

    assert problem.location == f"{path}:4"
    assert "must be UTF-8 text, but byte 0xa9" in problem.expected


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n"], ids=["no bytes", "blank lines", "comments"])
def test_an_empty_file_is_refused(tmp_path: Path, text: str) -> None:
    path = write(tmp_path / "empty.yaml", text)

    assert "is empty" in refusal(path).problems[0].expected


def test_a_file_of_50_mb_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    with path.open("wb") as stream:
        stream.write(SMALL.encode())
        # Not UTF-8, nor YAML: decoding or parsing any of it would be refused for that instead.
        stream.write((b"\xff padding " + b"x" * 1013 + b"\n") * (50 * 1024))

    assert [p.expected for p in refusal(path).problems] == ["the plan file is 50.0 MB; the limit is 20 MB: split it"]


def test_invalid_yaml_is_refused_with_its_line(tmp_path: Path) -> None:
    path = write(tmp_path / "broken.yaml", SMALL.replace("title: Test Plan", "title: [Test Plan"))

    [problem] = refusal(path).problems

    assert problem.location.startswith(f"{path}:")
    assert problem.expected.startswith("not valid YAML")


def test_a_rate_above_100_is_refused_by_the_domain_before_anything_is_written(tmp_path: Path) -> None:
    text = (
        SMALL.replace("basis: YTD_PRO_RATA", "basis: RATE")
        .replace('value: "2472"', 'value: "50"')
        .replace('value: "492"', 'value: "40"')
        .replace('{value: "995"}', '{value: "120"}')
    )
    path = write(tmp_path / "rate.yaml", text)

    [problem] = refusal(path).problems

    assert (problem.location, problem.field) == (f"{path}:21", f"{FIGURES}.Q2.value")
    assert problem.expected == "a rate cannot exceed 100%, not 120"
