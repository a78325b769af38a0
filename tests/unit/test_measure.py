"""The Measure aggregate: what it refuses, what it records, and what a reader sees of it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from functools import reduce
from typing import Any
from uuid import UUID, uuid5

import pytest

from domain.assessed import assess_measure
from domain.definition import Definition, parse_definition
from domain.errors import DomainError, NotFoundError, ValidationError
from domain.ledger import Ledger
from domain.measure import Measure
from domain.values import Amount, Basis, Direction, Quarter, Status, parse_amount, to_decimal

D = Decimal
PLAN_ID = UUID("6a1f3c2e-0000-4000-8000-000000000001")
OFFICER = "officer@stockton.gov.uk"
Q1, Q2, Q3, Q4 = Quarter.Q1, Quarter.Q2, Quarter.Q3, Quarter.Q4


def definition(
    *,
    direction: Direction = Direction.REDUCE,
    basis: Basis = Basis.YTD_PRO_RATA,
    tolerance: object = None,
    components: list[tuple[object, object]] | None = None,
    title: object = "Reduce criminal damage",
) -> Definition:
    return parse_definition(
        title=title,
        description=None,
        direction=direction,
        basis=basis,
        tolerance=tolerance,
        unit="crimes",
        components=components if components is not None else [("all", "All criminal damage")],
    )


def define(number: str = "5.1", plan_id: UUID = PLAN_ID, **kwargs: Any) -> Measure:
    return Measure.define(
        plan_id=plan_id,
        theme_code="5",
        number=number,
        definition=definition(**kwargs),
        discrepancy_threshold=D("1.0"),
        actor=OFFICER,
    )


def count(value: int | str) -> Amount:
    return parse_amount(value, None, None)


def criminal_damage() -> Measure:
    """5.1: baseline 2,472 crimes in 2011/12, reduce."""
    m = define()
    m.set_baseline("all", count(2472), period="2011/12", actor=OFFICER)
    return m


def refused(call: Callable[[], object], error: type[DomainError] = ValidationError) -> DomainError:
    with pytest.raises(error) as caught:
        call()
    return caught.value


# -- what the domain refuses ----------------------------------------------------------


@pytest.mark.parametrize("raw", ["Q5", "Q0", "q", "", None, 2])
def test_a_quarter_outside_q1_to_q4_is_refused(raw: object) -> None:
    error = refused(lambda: Quarter.parse(raw))

    assert error.field == "quarter"


def test_a_quarter_is_read_whatever_its_case_and_spacing() -> None:
    assert Quarter.parse(" q2 ") is Q2


def test_a_figure_for_an_unknown_component_is_refused_naming_the_known_ones() -> None:
    m = criminal_damage()

    error = refused(lambda: m.submit_figure("yarm", Q1, count(11), actor=OFFICER), NotFoundError)

    assert error.field == "component"
    assert "all" in error.message
    assert m.collect_events()[-1].originator_version == 2  # nothing new was recorded


def test_a_baseline_for_an_unknown_component_is_refused() -> None:
    m = define()

    error = refused(lambda: m.set_baseline("police", count(14965), actor=OFFICER), NotFoundError)

    assert error.field == "component"


@pytest.mark.parametrize(
    ("value", "numerator", "denominator", "field"),
    [
        (-1, None, None, "value"),
        ("-0.5", None, None, "value"),
        (None, -1, 10, "numerator"),
        (None, 1, 0, "denominator"),
        (None, 1, -2, "denominator"),
        (None, 14, 13, "numerator"),
        (None, 3, None, "denominator"),
        (None, None, 3, "numerator"),
        (None, None, None, "value"),
    ],
)
def test_an_amount_that_cannot_be_a_count_or_a_fraction_is_refused(
    value: object, numerator: object, denominator: object, field: str
) -> None:
    error = refused(lambda: parse_amount(value, numerator, denominator))

    assert error.field == field


@pytest.mark.parametrize("raw", ["NaN", "nan", "sNaN", float("nan"), "Infinity", "-Infinity", float("inf"), "1e400"])
@pytest.mark.parametrize("field", ["value", "numerator", "denominator"])
def test_not_a_number_and_infinity_are_refused_wherever_a_number_goes(raw: object, field: str) -> None:
    args: dict[str, object] = {"value": None, "numerator": 1, "denominator": 2}
    args[field] = raw

    error = refused(lambda: parse_amount(args["value"], args["numerator"], args["denominator"]))

    assert error.field == field


@pytest.mark.parametrize("raw", [True, "twelve", "1,000", object()])
def test_something_that_is_not_a_number_is_refused(raw: object) -> None:
    error = refused(lambda: to_decimal(raw, "value"))

    assert error.field == "value"


def test_a_reported_change_that_is_not_a_number_is_refused() -> None:
    m = criminal_damage()

    error = refused(lambda: m.submit_figure("all", Q1, count(492), reported_change="NaN", actor=OFFICER))

    assert error.field == "reportedChange"


def test_a_rate_above_one_hundred_percent_is_refused() -> None:
    m = define(direction=Direction.INCREASE, basis=Basis.RATE)

    error = refused(lambda: m.set_baseline("all", count(101), actor=OFFICER))

    assert error.field == "value"


def test_revising_a_figure_never_submitted_is_not_found() -> None:
    m = criminal_damage()

    error = refused(
        lambda: m.revise_figure("all", Q2, count(995), reason="typo", actor=OFFICER),
        NotFoundError,
    )

    assert error.field == "quarter"
    assert "submit it first" in error.message


def _with_a_q1_figure_and_override() -> Measure:
    m = criminal_damage()
    m.submit_figure("all", Q1, count(492), actor=OFFICER)
    m.override_status(Q1, Status.AT_RISK, reason="seasonal spike expected", actor=OFFICER)
    return m


CHANGES_NEEDING_A_REASON: dict[str, Callable[[Measure, object], None]] = {
    "resetBaseline": lambda m, why: m.reset_baseline("all", count(2400), reason=why, actor=OFFICER),
    "reviseFigure": lambda m, why: m.revise_figure("all", Q1, count(490), reason=why, actor=OFFICER),
    "overrideStatus": lambda m, why: m.override_status(Q1, Status.ON_TRACK, reason=why, actor=OFFICER),
    "clearStatusOverride": lambda m, why: m.clear_status_override(Q1, reason=why, actor=OFFICER),
    "markFigureUnavailable": lambda m, why: m.mark_figure_unavailable("all", Q2, reason=why, actor=OFFICER),
    "redefineMeasure": lambda m, why: m.redefine(definition(), reason=why, actor=OFFICER),
}


@pytest.mark.parametrize("reason", [None, "", "   ", "\n\t"])
@pytest.mark.parametrize("command", list(CHANGES_NEEDING_A_REASON))
def test_a_change_to_something_recorded_is_refused_without_a_reason(command: str, reason: object) -> None:
    m = _with_a_q1_figure_and_override()
    version = m.version

    error = refused(lambda: CHANGES_NEEDING_A_REASON[command](m, reason))

    assert error.field == "reason"
    assert m.version == version


def test_a_second_submission_for_the_same_component_and_quarter_points_to_revise_figure() -> None:
    m = criminal_damage()
    m.submit_figure("all", Q1, count(492), actor=OFFICER)

    error = refused(lambda: m.submit_figure("all", Q1, count(490), actor=OFFICER))

    assert error.field == "quarter"
    assert "reviseFigure" in error.message
    assert m.figures[("all", Q1)].amount == count(492)


def test_a_figure_marked_unavailable_can_be_submitted_when_it_arrives() -> None:
    m = criminal_damage()
    m.mark_figure_unavailable("all", Q2, reason="Q2 data not available at the time of compiling", actor=OFFICER)

    m.submit_figure("all", Q2, count(995), actor=OFFICER)

    record = m.figures[("all", Q2)]
    assert record.amount == count(995)
    assert record.revision == 2


def test_a_second_baseline_is_refused_in_favour_of_reset_baseline() -> None:
    m = criminal_damage()

    error = refused(lambda: m.set_baseline("all", count(2400), actor=OFFICER))

    assert error.field == "component"
    assert "resetBaseline" in error.message


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (
            lambda m: m.submit_figure("all", Q1, count(492), commentary="x" * 20_001, actor=OFFICER),
            "commentary",
        ),
        (lambda m: m.update_commentary(Q1, "x" * 20_001, actor=OFFICER), "text"),
        (lambda m: m.mark_figure_unavailable("all", Q1, reason="x" * 20_001, actor=OFFICER), "reason"),
        (lambda m: m.reset_baseline("all", count(1), reason="ok", period="p" * 501, actor=OFFICER), "period"),
    ],
    ids=["commentary", "commentary update", "reason", "baseline period"],
)
def test_a_text_over_its_limit_is_refused(call: Callable[[Measure], None], field: str) -> None:
    m = criminal_damage()

    error = refused(lambda: call(m))

    assert error.field == field


def test_a_text_at_its_limit_is_accepted() -> None:
    m = criminal_damage()

    m.update_commentary(Q1, "x" * 20_000, actor=OFFICER)

    assert m.commentary[Q1][0] == "x" * 20_000


def test_a_title_over_five_hundred_characters_is_refused() -> None:
    error = refused(lambda: definition(title="t" * 501))

    assert error.field == "title"


@pytest.mark.parametrize("basis", [b for b in Basis if b is not Basis.NONE])
def test_a_monitor_measure_with_a_basis_other_than_none_is_refused(basis: Basis) -> None:
    error = refused(lambda: definition(direction=Direction.MONITOR, basis=basis))

    assert error.field == "basis"


@pytest.mark.parametrize("direction", [Direction.REDUCE, Direction.INCREASE, Direction.MAINTAIN])
def test_a_target_with_basis_none_is_refused(direction: Direction) -> None:
    error = refused(lambda: definition(direction=direction, basis=Basis.NONE))

    assert error.field == "basis"


def test_duplicate_component_keys_are_refused() -> None:
    error = refused(lambda: definition(components=[("ppos", "PPOs"), ("hccs", "HCCs"), ("ppos", "DRRs")]))

    assert error.field == "components[2].key"


@pytest.mark.parametrize("key", ["Police", "town centre", "-yarm", ""])
def test_a_component_key_must_be_lower_case_letters_digits_and_dashes(key: str) -> None:
    error = refused(lambda: definition(components=[(key, "A component")]))

    assert error.field == "components[0].key"


def test_a_measure_needs_at_least_one_component() -> None:
    error = refused(lambda: definition(components=[]))

    assert error.field == "components"


@pytest.mark.parametrize("tolerance", ["-0.1", "100.1", "NaN", "Infinity", "five"])
def test_a_tolerance_outside_zero_to_one_hundred_is_refused(tolerance: str) -> None:
    error = refused(lambda: definition(tolerance=tolerance))

    assert error.field == "tolerance"


@pytest.mark.parametrize(("tolerance", "expected"), [(None, D(5)), ("0", D(0)), ("100", D(100)), ("2.5", D("2.5"))])
def test_a_tolerance_defaults_to_five_and_may_be_anything_from_zero_to_one_hundred(
    tolerance: object, expected: Decimal
) -> None:
    assert definition(tolerance=tolerance).tolerance == expected


def test_a_profile_needs_four_non_negative_quarters() -> None:
    m = define()

    short = refused(lambda: m.set_baseline("all", count(400), profile=[100, 100, 200], actor=OFFICER))
    negative = refused(lambda: m.set_baseline("all", count(400), profile=[100, -1, 200, 101], actor=OFFICER))

    assert short.field == "profile"
    assert negative.field == "profile[1]"


def test_clearing_an_override_that_does_not_exist_is_not_found() -> None:
    m = criminal_damage()

    error = refused(lambda: m.clear_status_override(Q3, reason="no longer needed", actor=OFFICER), NotFoundError)

    assert error.field == "quarter"


# -- what it records ------------------------------------------------------------------


def test_every_event_carries_its_actor_and_every_change_to_a_record_its_reason() -> None:
    m = define()
    m.set_baseline("all", count(2472), actor="analyst")
    m.submit_figure("all", Q1, count(492), reported_change="-16.3", actor="officer")
    m.revise_figure("all", Q1, count(490), reason="NB Amended in Q2", actor="auditor")
    m.mark_figure_unavailable("all", Q2, reason="Q2 data not available", actor="officer")
    m.update_commentary(Q1, "Focus groups requested", actor="officer")
    m.override_status(Q1, Status.AT_RISK, reason="board decision", actor="chair")
    m.clear_status_override(Q1, reason="decision reversed", actor="chair")
    m.reset_baseline("all", count(2400), reason="new methodology", actor="analyst")
    m.redefine(definition(title="Reduce criminal damage year on year"), reason="reworded", actor="chair")

    events: Sequence[Any] = m.collect_events()

    assert [(type(e).__name__, e.actor, getattr(e, "reason", None)) for e in events] == [
        ("MeasureDefined", OFFICER, None),
        ("BaselineSet", "analyst", None),
        ("FigureSubmitted", "officer", None),
        ("FigureRevised", "auditor", "NB Amended in Q2"),
        ("FigureMarkedUnavailable", "officer", "Q2 data not available"),
        ("CommentaryUpdated", "officer", None),
        ("StatusOverridden", "chair", "board decision"),
        ("StatusOverrideCleared", "chair", "decision reversed"),
        ("BaselineReset", "analyst", "new methodology"),
        ("MeasureRedefined", "chair", "reworded"),
    ]
    assert [e.originator_version for e in events] == list(range(1, 11))


def test_a_revision_keeps_who_and_why_with_the_figure_and_its_history() -> None:
    m = criminal_damage()
    m.submit_figure("all", Q1, count(12), actor="officer")

    m.revise_figure("all", Q1, count(11), reason="NB Amended in Q2", actor="auditor")

    current = m.figures[("all", Q1)]
    assert current.amount == count(11)
    assert (current.stamp.by, current.stamp.reason) == ("auditor", "NB Amended in Q2")
    assert [r.amount for r in m.figure_history[("all", Q1)]] == [count(12), count(11)]


def test_revision_numbers_increase_with_each_change_to_a_figure() -> None:
    m = criminal_damage()
    m.mark_figure_unavailable("all", Q1, reason="not yet on NDTMS", actor=OFFICER)
    m.submit_figure("all", Q1, count(500), actor=OFFICER)
    m.revise_figure("all", Q1, count(495), reason="late crimes", actor=OFFICER)

    m.revise_figure("all", Q1, count(492), reason="reclassified", actor=OFFICER)

    assert [r.revision for r in m.figure_history[("all", Q1)]] == [1, 2, 3, 4]
    assert m.figures[("all", Q1)].revision == 4


def test_a_baseline_reset_recomputes_every_quarter_against_the_new_baseline() -> None:
    m = define(number="4.3", basis=Basis.YTD_PRO_RATA)
    m.set_baseline("all", count(400), period="2011/12", actor=OFFICER)
    m.submit_figure("all", Q1, count(100), actor=OFFICER)
    m.submit_figure("all", Q2, count(200), actor=OFFICER)
    before = assess_measure(m)

    m.reset_baseline("all", count(500), reason="new repeat identification methodology", actor=OFFICER)

    after = assess_measure(m)
    assert [f.assessment.status for f in before.figures] == [Status.AT_RISK, Status.AT_RISK]
    assert [f.assessment.comparison for f in after.figures] == [D(125), D(250)]
    assert [f.assessment.change for f in after.figures] == [D(-20), D(-20)]
    assert [f.assessment.status for f in after.figures] == [Status.ON_TRACK, Status.ON_TRACK]
    assert all(f.baseline is not None and f.baseline.is_reset for f in after.figures)
    assert [(b.record.amount, b.record.is_reset) for b in after.baselines["all"]] == [
        (count(400), False),
        (count(500), True),
    ]
    assert after.baselines["all"][-1].record.stamp.reason == "new repeat identification methodology"


def test_an_override_changes_the_status_but_keeps_the_computed_one() -> None:
    m = criminal_damage()
    m.submit_figure("all", Q1, count(492), actor=OFFICER)

    m.override_status(Q1, Status.AT_RISK, reason="one-off fall in reporting", actor="chair")

    q1 = assess_measure(m).quarters[0]
    assert q1.status is Status.AT_RISK
    assert q1.computed_status is Status.ON_TRACK
    assert q1.override is not None
    assert (q1.override.stamp.by, q1.override.stamp.reason) == ("chair", "one-off fall in reporting")
    assert assess_measure(m).status is Status.AT_RISK


def test_clearing_an_override_restores_the_computed_status() -> None:
    m = criminal_damage()
    m.submit_figure("all", Q1, count(492), actor=OFFICER)
    m.override_status(Q1, Status.AT_RISK, reason="one-off fall in reporting", actor="chair")

    m.clear_status_override(Q1, reason="figures confirmed", actor="chair")

    q1 = assess_measure(m).quarters[0]
    assert (q1.status, q1.computed_status, q1.override) == (Status.ON_TRACK, Status.ON_TRACK, None)


def test_the_current_status_is_the_status_in_the_latest_quarter_with_a_figure() -> None:
    m = criminal_damage()
    m.submit_figure("all", Q1, count(700), actor=OFFICER)  # +13.3%: off track
    m.submit_figure("all", Q2, count(995), actor=OFFICER)  # -19.5%: on track

    assessed = assess_measure(m)

    assert [q.status for q in assessed.quarters] == [
        Status.OFF_TRACK,
        Status.ON_TRACK,
        Status.NO_DATA,
        Status.NO_DATA,
    ]
    assert assessed.status is Status.ON_TRACK


def test_an_override_in_a_later_quarter_without_a_figure_becomes_the_current_status() -> None:
    m = criminal_damage()
    m.submit_figure("all", Q1, count(492), actor=OFFICER)

    m.override_status(Q3, Status.OFF_TRACK, reason="known rise since September", actor="chair")

    assessed = assess_measure(m)
    assert assessed.quarters[2].computed_status is Status.NO_DATA
    assert assessed.status is Status.OFF_TRACK


def test_a_measure_with_no_figures_has_no_data() -> None:
    assert assess_measure(criminal_damage()).status is Status.NO_DATA


def test_a_figure_marked_unavailable_has_no_data_and_keeps_its_commentary() -> None:
    m = criminal_damage()
    m.submit_figure("all", Q2, count(995), commentary="FYTD", actor=OFFICER)

    m.mark_figure_unavailable("all", Q2, reason="Q2 data not available", actor=OFFICER)

    record = m.figures[("all", Q2)]
    assert (record.amount, record.unavailable_reason, record.commentary) == (
        None,
        "Q2 data not available",
        "FYTD",
    )
    assert assess_measure(m).quarters[1].computed_status is Status.NO_DATA


def test_a_measure_takes_the_worst_of_its_components_ignoring_those_without_data() -> None:
    m = define(
        number="6.1",
        components=[("ppos", "PPOs"), ("hccs", "HCCs"), ("drrs", "DRRs")],
    )
    for key, baseline in [("ppos", 85), ("hccs", 245), ("drrs", 117)]:
        m.set_baseline(key, count(baseline), actor=OFFICER)
    m.submit_figure("ppos", Q1, count(10), actor=OFFICER)
    m.submit_figure("hccs", Q1, count(33), actor=OFFICER)
    m.submit_figure("hccs", Q2, count(80), actor=OFFICER)

    m.submit_figure("drrs", Q1, count(35), actor=OFFICER)

    assessed = assess_measure(m)
    assert assessed.quarters[0].status is Status.OFF_TRACK  # DRRs +19.7%
    assert assessed.quarters[1].status is Status.ON_TRACK  # only HCCs have Q2 data
    assert assessed.quarters[2].status is Status.NO_DATA


def test_a_redefinition_keeps_the_earlier_definition_in_the_history() -> None:
    m = define(number="3.1", direction=Direction.MAINTAIN, title="Most Serious Violent Crime")

    m.redefine(
        definition(direction=Direction.MAINTAIN, title="Violence With Injury"),
        reason="MSV can no longer be calculated",
        actor="chair",
    )

    assert m.definition.title == "Violence With Injury"
    assert [d.title for d, _ in m.definitions] == ["Most Serious Violent Crime", "Violence With Injury"]
    assert m.definitions[1][1].reason == "MSV can no longer be calculated"


def test_a_measure_id_is_determined_by_its_plan_and_number() -> None:
    other_plan = UUID("6a1f3c2e-0000-4000-8000-000000000002")

    first = define(number="5.1")
    again = define(number=" 5.1 ")
    elsewhere = define(number="5.1", plan_id=other_plan)

    assert first.id == again.id == Measure.create_id(PLAN_ID, "5.1") == uuid5(PLAN_ID, "5.1")
    assert elsewhere.id != first.id
    assert define(number="5.2").id != first.id


# -- replay -------------------------------------------------------------------------


def _a_busy_measure() -> Measure:
    m = define(number="6.1", components=[("ppos", "PPOs"), ("hccs", "HCCs")])
    m.set_baseline("ppos", count(85), period="2011/12", actor=OFFICER)
    m.set_baseline("hccs", count(245), profile=[60, 60, 60, 65], actor=OFFICER)
    m.submit_figure("ppos", Q1, count(10), reported_change="-7.5", commentary="PPOs – 10", actor=OFFICER)
    m.submit_figure("hccs", Q1, count(33), reported_change="-46.1", actor=OFFICER)
    m.revise_figure("ppos", Q1, count(11), reason="late conviction", actor="auditor")
    m.mark_figure_unavailable("hccs", Q2, reason="not available", actor=OFFICER)
    m.update_commentary(Q1, "Reductions YTD for PPOs & HCCs", actor=OFFICER)
    m.override_status(Q2, Status.AT_RISK, reason="awaiting data", actor="chair")
    m.reset_baseline("ppos", count(80), reason="new cohort", actor="analyst")
    m.redefine(
        definition(components=[("ppos", "PPOs"), ("hccs", "HCCs"), ("drrs", "DRRs")]),
        reason="DRRs added",
        actor="chair",
    )
    return m


def _state(m: Measure) -> dict[str, object]:
    names = [
        "id",
        "version",
        "created_on",
        "modified_on",
        "plan_id",
        "theme_code",
        "number",
        "discrepancy_threshold",
        "definition",
        "definitions",
        "baselines",
        "figures",
        "figure_history",
        "commentary",
        "overrides",
    ]
    return {name: getattr(m, name) for name in names}


def test_replaying_the_events_rebuilds_identical_state() -> None:
    m = _a_busy_measure()
    events = m.collect_events()

    replayed = reduce(lambda aggregate, event: event.mutate(aggregate), events, None)

    assert isinstance(replayed, Measure)
    assert _state(replayed) == _state(m)
    assert assess_measure(replayed) == assess_measure(m)


def test_a_measure_stored_and_read_back_in_memory_is_identical() -> None:
    app = Ledger(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    m = _a_busy_measure()
    app.save(m)

    stored: object = app.repository.get(m.id)

    assert isinstance(stored, Measure)
    assert _state(stored) == _state(m)
    assert assess_measure(stored) == assess_measure(m)
