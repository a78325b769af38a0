"""Status of a component in a quarter: each direction with each basis, and the edges."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from domain.rules import Assessment, Baseline, assess, change, comparison_value, discrepancies, round1, worst
from domain.values import Amount, Basis, Direction, Quarter, Status, parse_amount

D = Decimal
ON, AT, OFF = Status.ON_TRACK, Status.AT_RISK, Status.OFF_TRACK
FIVE_PERCENT = D(5)


def count(value: int | str | Decimal) -> Amount:
    return Amount(value=D(value))


def percent(value: int | str | Decimal) -> Amount:
    return Amount(value=D(value))


def fraction(numerator: int | str | Decimal, denominator: int | str | Decimal) -> Amount:
    return Amount(numerator=D(numerator), denominator=D(denominator))


def judge(
    basis: Basis,
    baseline: Baseline | None,
    quarter: Quarter,
    amount: Amount | None,
    direction: Direction = Direction.INCREASE,
    tolerance: Decimal = FIVE_PERCENT,
) -> Assessment:
    """One component's assessment, with a 5% tolerance unless a test says otherwise."""
    return assess(
        direction=direction, basis=basis, tolerance=tolerance, baseline=baseline, quarter=quarter, amount=amount
    )


def away_from(comparison: int) -> Callable[[Decimal], Amount]:
    """For a change `ch` (percent), the count that is `ch` percent away from `comparison`."""
    return lambda ch: count(D(comparison) * (100 + ch) / 100)


# A baseline and a way to build the figure that lands exactly on a given change,
# for each basis (the change is percent, or points for RATE).
SCENARIOS: dict[str, tuple[Basis, Baseline, Quarter, Callable[[Decimal], Amount]]] = {
    # 400 a year, so 300 by Q3.
    "YTD_PRO_RATA": (Basis.YTD_PRO_RATA, Baseline(count(400)), Quarter.Q3, away_from(300)),
    # A quarterly profile: 50 + 150 = 200 by Q2, whatever the annual total.
    "YTD_PRO_RATA with a quarterly profile": (
        Basis.YTD_PRO_RATA,
        Baseline(count(400), profile=(D(50), D(150), D(100), D(100))),
        Quarter.Q2,
        away_from(200),
    ),
    "ROLLING_12_MONTHS": (Basis.ROLLING_12_MONTHS, Baseline(count(200)), Quarter.Q2, away_from(200)),
    "RATE given as a value": (Basis.RATE, Baseline(percent(50)), Quarter.Q1, lambda ch: percent(D(50) + ch)),
    "RATE given as numerator and denominator": (
        Basis.RATE,
        Baseline(fraction(144, 288)),
        Quarter.Q4,
        lambda ch: fraction(D(100) + 2 * ch, 200),
    ),
}

# change: -5 (exactly -tolerance), -4.9, 0, +0.1, +4.9, +5 (exactly +tolerance), +20
CHANGES = [D(-5), D("-4.9"), D(0), D("0.1"), D("4.9"), D(5), D(20)]
EXPECTED = {
    Direction.REDUCE: [ON, AT, AT, AT, AT, OFF, OFF],
    Direction.INCREASE: [OFF, AT, AT, AT, AT, ON, ON],
    Direction.MAINTAIN: [ON, ON, ON, AT, AT, OFF, OFF],
}


def _cases() -> list[Any]:
    cases: list[Any] = []
    for direction, statuses in EXPECTED.items():
        for name in SCENARIOS:
            for ch, status in zip(CHANGES, statuses, strict=True):
                cases.append(pytest.param(direction, name, ch, status, id=f"{direction.value}-{name}-{ch:+}"))
    return cases


@pytest.mark.parametrize(("direction", "scenario", "target_change", "expected"), _cases())
def test_a_direction_with_a_basis_bands_the_change_by_the_tolerance(
    direction: Direction, scenario: str, target_change: Decimal, expected: Status
) -> None:
    basis, baseline, quarter, figure_for = SCENARIOS[scenario]

    result = judge(basis, baseline, quarter, figure_for(target_change), direction)

    assert result.change == target_change
    assert result.status is expected


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_a_monitor_measure_is_not_assessed_whatever_its_figures(scenario: str) -> None:
    basis, baseline, quarter, figure_for = SCENARIOS[scenario]

    result = judge(basis, baseline, quarter, figure_for(D(30)), Direction.MONITOR)

    assert result.status is Status.NOT_ASSESSED


def test_a_monitor_measure_with_basis_none_has_no_comparison_and_no_change() -> None:
    result = judge(Basis.NONE, Baseline(count(369)), Quarter.Q2, count(172), Direction.MONITOR)

    assert result.status is Status.NOT_ASSESSED
    assert result.comparison is None
    assert result.change is None
    assert result.rule == "MONITOR: no target"


def test_a_reduce_measure_twenty_percent_below_its_pro_rata_baseline_is_on_track() -> None:
    result = judge(Basis.YTD_PRO_RATA, Baseline(count(400)), Quarter.Q2, count(160), Direction.REDUCE)

    assert result.comparison == 200
    assert result.change == -20
    assert result.status is ON
    assert "REDUCE" in result.rule


def test_a_wider_tolerance_keeps_a_ten_percent_rise_at_risk() -> None:
    result = judge(
        Basis.ROLLING_12_MONTHS, Baseline(count(100)), Quarter.Q1, count(110), Direction.REDUCE, tolerance=D(15)
    )

    assert result.status is AT


@pytest.mark.parametrize("quarter", list(Quarter))
def test_the_pro_rata_comparison_is_the_baseline_times_the_quarter_over_four(quarter: Quarter) -> None:
    comparison = comparison_value(Basis.YTD_PRO_RATA, Baseline(count(2472)), quarter)

    assert comparison == D(2472) * quarter.number / 4


@pytest.mark.parametrize(("quarter", "expected"), [("Q1", 50), ("Q2", 200), ("Q3", 300), ("Q4", 400)])
def test_a_quarterly_profile_gives_the_sum_of_its_first_quarters(quarter: str, expected: int) -> None:
    baseline = Baseline(count(400), profile=(D(50), D(150), D(100), D(100)))

    comparison = comparison_value(Basis.YTD_PRO_RATA, baseline, Quarter(quarter))

    assert comparison == expected


@pytest.mark.parametrize("quarter", list(Quarter))
def test_a_rolling_twelve_month_figure_is_held_against_the_whole_annual_baseline(quarter: Quarter) -> None:
    assert comparison_value(Basis.ROLLING_12_MONTHS, Baseline(count(52)), quarter) == 52


def test_a_rate_change_is_in_percentage_points_not_percent() -> None:
    result = judge(Basis.RATE, Baseline(percent(40)), Quarter.Q1, percent(50))

    assert result.change == 10
    assert result.status is ON


def test_a_rate_baseline_of_zero_still_gives_a_points_change() -> None:
    result = judge(Basis.RATE, Baseline(percent(0)), Quarter.Q2, fraction(3, 100), tolerance=D(2))

    assert result.comparison == 0
    assert result.change == 3
    assert result.status is ON


# TARGET_COUNT: "at least forty" a year, so 10 a quarter; tolerance 5% below is at risk.
@pytest.mark.parametrize(
    ("quarter", "figure", "expected"),
    [
        ("Q1", "10", ON),
        ("Q1", "12", ON),
        ("Q2", "20", ON),
        ("Q4", "38", AT),  # exactly 5% below 40
        ("Q4", "39.9", AT),
        ("Q4", "37.9", OFF),
        ("Q2", "0", OFF),
    ],
)
def test_a_target_count_is_on_track_once_the_pro_rata_target_is_reached(
    quarter: str, figure: str, expected: Status
) -> None:
    result = judge(Basis.TARGET_COUNT, Baseline(count(40)), Quarter(quarter), count(figure))

    assert result.comparison == D(40) * Quarter(quarter).number / 4
    assert result.status is expected
    assert result.rule.startswith("TARGET_COUNT")


def test_four_analyses_a_year_with_one_done_by_q2_is_off_track() -> None:
    result = judge(Basis.TARGET_COUNT, Baseline(count(4)), Quarter.Q2, count(1))

    assert result.comparison == 2
    assert result.status is OFF


def test_a_target_of_zero_is_not_assessed_and_says_why() -> None:
    result = judge(Basis.TARGET_COUNT, Baseline(count(0)), Quarter.Q1, count(3))

    assert result.status is Status.NOT_ASSESSED
    assert "zero" in result.rule


@pytest.mark.parametrize("basis", [Basis.YTD_PRO_RATA, Basis.ROLLING_12_MONTHS])
@pytest.mark.parametrize("direction", [Direction.REDUCE, Direction.INCREASE, Direction.MAINTAIN])
def test_a_zero_baseline_is_not_assessed_with_an_explanation_never_a_division_by_zero(
    direction: Direction, basis: Basis
) -> None:
    result = judge(basis, Baseline(count(0)), Quarter.Q2, count(7), direction)

    assert result.status is Status.NOT_ASSESSED
    assert result.change is None
    assert result.rule == "the baseline is zero: a percentage change is undefined"


def test_a_profile_with_nothing_expected_in_q1_is_not_assessed_in_q1() -> None:
    baseline = Baseline(count(100), profile=(D(0), D(50), D(25), D(25)))

    result = judge(Basis.YTD_PRO_RATA, baseline, Quarter.Q1, count(4), Direction.REDUCE)

    assert result.status is Status.NOT_ASSESSED
    assert "zero" in result.rule


def test_change_against_zero_is_undefined_rather_than_an_error() -> None:
    assert change(Basis.YTD_PRO_RATA, D(5), D(0)) is None


def test_a_component_without_a_baseline_is_not_assessed() -> None:
    result = judge(Basis.YTD_PRO_RATA, None, Quarter.Q1, count(10), Direction.REDUCE)

    assert result.status is Status.NOT_ASSESSED
    assert result.rule == "no baseline to compare with"
    assert result.comparison is None


@pytest.mark.parametrize("direction", list(Direction))
def test_a_quarter_without_a_figure_has_no_data(direction: Direction) -> None:
    basis = Basis.NONE if direction is Direction.MONITOR else Basis.YTD_PRO_RATA

    result = judge(basis, Baseline(count(100)), Quarter.Q3, None, direction)

    assert result.status is Status.NO_DATA
    assert result.change is None


def test_each_assessment_carries_what_it_was_computed_from() -> None:
    result = judge(Basis.YTD_PRO_RATA, Baseline(count(2472)), Quarter.Q2, count(995), Direction.REDUCE)

    assert result.measured == 995
    assert result.comparison == 1236
    assert result.change is not None
    assert result.rule == "REDUCE: change -19.5 <= -5"


# -- worst ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([ON, AT, OFF], OFF),
        ([OFF, ON], OFF),
        ([ON, AT], AT),
        ([AT, Status.NO_DATA], AT),
        ([ON, Status.NO_DATA], ON),
        ([ON, Status.NOT_ASSESSED], ON),
        ([OFF, Status.NOT_ASSESSED, Status.NO_DATA], OFF),
        ([Status.NOT_ASSESSED, Status.NO_DATA], Status.NOT_ASSESSED),
        ([Status.NOT_ASSESSED], Status.NOT_ASSESSED),
        ([Status.NO_DATA, Status.NO_DATA, Status.NO_DATA], Status.NO_DATA),
        ([], Status.NO_DATA),
    ],
)
def test_a_measure_takes_the_worst_status_of_its_components(statuses: list[Status], expected: Status) -> None:
    assert worst(statuses) is expected


def test_a_measure_has_no_data_only_when_every_component_lacks_data() -> None:
    assert worst([Status.NO_DATA, Status.NO_DATA]) is Status.NO_DATA
    assert worst([Status.NO_DATA, ON]) is ON


# -- exactness and rounding -----------------------------------------------------------


def test_change_is_an_exact_decimal_never_a_float() -> None:
    result = change(Basis.YTD_PRO_RATA, D(120), D(98))

    assert isinstance(result, Decimal)
    assert result == D(22) / D(98) * 100


def test_a_float_input_becomes_the_decimal_of_its_written_form_not_its_binary_value() -> None:
    figure = parse_amount(0.1, None, None)

    result = change(Basis.ROLLING_12_MONTHS, figure.value or D(0), D("0.2"))

    assert figure.value == D("0.1")
    assert isinstance(result, Decimal)
    assert result == -50


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("-19.45", "-19.5"),
        ("19.45", "19.5"),
        ("-19.498", "-19.5"),
        ("19.449", "19.4"),
        ("0.05", "0.1"),
        ("-0.05", "-0.1"),
        ("-0.04", "0.0"),
        ("19.658", "19.7"),
    ],
)
def test_changes_are_shown_rounded_half_up_away_from_zero_to_one_place(value: str, shown: str) -> None:
    assert round1(D(value)) == D(shown)
    assert str(round1(D(value))).lstrip("-") == shown.lstrip("-")


# -- discrepancy threshold ------------------------------------------------------------


@pytest.mark.parametrize(
    ("reported", "flagged"),
    [("-19", True), ("-21", True), ("-19.1", False), ("-20.9", False), ("-20", False)],
)
def test_a_reported_change_is_a_discrepancy_from_a_difference_of_exactly_the_threshold(
    reported: str, flagged: bool
) -> None:
    found = discrepancies(Basis.YTD_PRO_RATA, count(80), D(reported), D(-20))

    assert bool(found) is flagged


def test_a_stated_rate_is_a_discrepancy_from_a_difference_of_exactly_the_threshold() -> None:
    stated_one_point_out = Amount(value=D(51), numerator=D(1), denominator=D(2))
    stated_near = Amount(value=D("50.9"), numerator=D(1), denominator=D(2))

    assert discrepancies(Basis.RATE, stated_one_point_out, None, None) != []
    assert discrepancies(Basis.RATE, stated_near, None, None) == []


def test_without_a_reported_change_there_is_nothing_to_disagree_with() -> None:
    assert discrepancies(Basis.YTD_PRO_RATA, count(80), None, D(-20)) == []


# -- the rate and the progress a figure shows -------------------------------------------------


@pytest.mark.parametrize(
    ("basis", "amount", "rate"),
    [
        (Basis.RATE, fraction(13, 21), D(13) / D(21) * 100),
        (Basis.RATE, Amount(D(56), D(38), D(76)), D(50)),  # the fraction's rate, not the stated one
        (Basis.RATE, percent(62), D(62)),
        (Basis.YTD_PRO_RATA, fraction(3, 4), D(75)),
        (Basis.YTD_PRO_RATA, count(995), None),
    ],
)
def test_a_rate_is_worked_out_from_its_fraction_and_a_count_has_none(
    basis: Basis, amount: Amount, rate: Decimal | None
) -> None:
    assert judge(basis, Baseline(percent(50)), Quarter.Q1, amount).rate == rate


@pytest.mark.parametrize(
    ("basis", "target", "figure", "progress"),
    [
        (Basis.TARGET_COUNT, count(4), count(2), D(50)),
        (Basis.TARGET_COUNT, count(40), count(50), D(125)),
        (Basis.TARGET_COUNT, count(0), count(2), None),
        (Basis.YTD_PRO_RATA, count(4), count(2), None),
    ],
)
def test_a_target_count_figure_s_progress_is_its_share_of_the_year_s_target(
    basis: Basis, target: Amount, figure: Amount, progress: Decimal | None
) -> None:
    assert judge(basis, Baseline(target), Quarter.Q2, figure).progress == progress
