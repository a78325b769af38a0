"""The 2012-13 report, checked by hand (docs/rules.md#the-2012-13-plan-checked-by-hand), reproduced by the rules."""

from __future__ import annotations

from decimal import Decimal

import pytest

from domain.rules import Assessment, Baseline, assess, discrepancies, round1
from domain.values import Amount, Basis, Direction, Quarter, Status, plain

D = Decimal
TOLERANCE = D(5)


def count(value: int | str) -> Amount:
    return Amount(value=D(value))


def fraction(numerator: int, denominator: int, stated: int | str | None = None) -> Amount:
    return Amount(
        value=None if stated is None else D(stated),
        numerator=D(numerator),
        denominator=D(denominator),
    )


def judge(
    direction: Direction,
    basis: Basis,
    baseline: Baseline | None,
    quarter: Quarter,
    figure: Amount,
    reported: Decimal | None = None,
) -> Assessment:
    """A figure of the report assessed as the plan assesses it, with the report's 5% tolerance."""
    return assess(
        direction=direction,
        basis=basis,
        tolerance=TOLERANCE,
        baseline=baseline,
        quarter=quarter,
        amount=figure,
        reported_change=reported,
    )


# measure, direction, basis, baseline, quarter, figure, comparison, computed (rounded), report's change
HAND_CHECKED = [
    ("2.1 s27 notices Q1", Direction.INCREASE, Basis.YTD_PRO_RATA, count(392), Quarter.Q1, count(120),
     D(98), D("22.4"), D("22.4")),
    ("3.2 Stockton Town Centre Q1", Direction.REDUCE, Basis.YTD_PRO_RATA, count(506), Quarter.Q1, count(126),
     D("126.5"), D("-0.4"), D("-0.4")),
    ("3.2 Yarm Q1", Direction.REDUCE, Basis.YTD_PRO_RATA, count(46), Quarter.Q1, count(11),
     D("11.5"), D("-4.3"), D("-4.3")),
    ("1.3 MAASBT Q1", Direction.REDUCE, Basis.YTD_PRO_RATA, count(3573), Quarter.Q1, count(1195),
     D("893.25"), D("33.8"), D("33.8")),
    ("1.3 MAASBT Q2", Direction.REDUCE, Basis.YTD_PRO_RATA, count(3573), Quarter.Q2, count(2507),
     D("1786.5"), D("40.3"), D("40.3")),
    ("1.3 Police Q2", Direction.REDUCE, Basis.YTD_PRO_RATA, count(14965), Quarter.Q2, count(6299),
     D("7482.5"), D("-15.8"), D(-16)),
    ("4.3 Q1 rolling", Direction.REDUCE, Basis.ROLLING_12_MONTHS, count(52), Quarter.Q1, count(47),
     D(52), D("-9.6"), D("-9.6")),
    ("4.3 Q2 rolling", Direction.REDUCE, Basis.ROLLING_12_MONTHS, count(52), Quarter.Q2, count(42),
     D(52), D("-19.2"), D(-19)),
    ("5.1 Q2", Direction.REDUCE, Basis.YTD_PRO_RATA, count(2472), Quarter.Q2, count(995),
     D(1236), D("-19.5"), D(-20)),
    ("5.2 Q2 rolling", Direction.REDUCE, Basis.ROLLING_12_MONTHS, count(34), Quarter.Q2, count(26),
     D(34), D("-23.5"), D(-24)),
    ("6.1 HCCs Q1", Direction.REDUCE, Basis.YTD_PRO_RATA, count(245), Quarter.Q1, count(33),
     D("61.25"), D("-46.1"), D("-46.1")),
    ("6.1 HCCs Q2", Direction.REDUCE, Basis.YTD_PRO_RATA, count(245), Quarter.Q2, count(80),
     D("122.5"), D("-34.7"), D("-34.7")),
    ("6.1 DRRs Q1", Direction.REDUCE, Basis.YTD_PRO_RATA, count(117), Quarter.Q1, count(35),
     D("29.25"), D("19.7"), D("19.6")),
    ("6.1 DRRs Q2", Direction.REDUCE, Basis.YTD_PRO_RATA, count(117), Quarter.Q2, count(66),
     D("58.5"), D("12.8"), D("12.8")),
]  # fmt: skip


@pytest.mark.parametrize(
    ("direction", "basis", "baseline", "quarter", "figure", "comparison", "computed", "reported"),
    [row[1:] for row in HAND_CHECKED],
    ids=[row[0] for row in HAND_CHECKED],
)
def test_each_hand_checked_figure_gives_the_comparison_and_change_worked_out_by_hand(
    direction: Direction,
    basis: Basis,
    baseline: Amount,
    quarter: Quarter,
    figure: Amount,
    comparison: Decimal,
    computed: Decimal,
    reported: Decimal,
) -> None:
    result = judge(direction, basis, Baseline(baseline), quarter, figure, reported=reported)

    assert result.comparison == comparison
    assert result.change is not None
    assert round1(result.change) == computed
    assert result.discrepancy is False, result.discrepancy_reason


RATE_ROWS = [
    ("3.4 Q1 rate", Quarter.Q1, fraction(13, 21, stated=62), D("61.9")),
    ("3.4 Q2 rate", Quarter.Q2, fraction(6, 13, stated=46), D("46.2")),
]


@pytest.mark.parametrize(
    ("quarter", "figure", "rate"),
    [row[1:] for row in RATE_ROWS],
    ids=[row[0] for row in RATE_ROWS],
)
def test_a_rate_figure_is_measured_from_its_fraction_against_the_baseline_rate(
    quarter: Quarter, figure: Amount, rate: Decimal
) -> None:
    baseline = Baseline(fraction(36, 46))

    result = judge(Direction.INCREASE, Basis.RATE, baseline, quarter, figure)

    assert result.measured is not None
    assert round1(result.measured) == rate
    assert result.comparison == D(36) / D(46) * 100
    assert result.change == result.measured - result.comparison
    assert result.discrepancy is False, result.discrepancy_reason


# measure, direction, basis, baseline, quarter, figure, report's change, computed (rounded)
DISCREPANT_CHANGES = [
    ("1.3 Police Q1", Direction.REDUCE, Basis.YTD_PRO_RATA, count(14965), Quarter.Q1, count(3079),
     D("-28.1"), D("-17.7")),
    ("5.1 Q1", Direction.REDUCE, Basis.YTD_PRO_RATA, count(2472), Quarter.Q1, count(492),
     D("-16.3"), D("-20.4")),
    ("2.1 Q2", Direction.INCREASE, Basis.YTD_PRO_RATA, count(392), Quarter.Q2, count(237),
     D("19.7"), D("20.9")),
    ("3.1 Q1", Direction.MAINTAIN, Basis.YTD_PRO_RATA, count(100), Quarter.Q1, count(12),
     D(-56), D("-52.0")),
    ("6.1 PPOs Q1", Direction.REDUCE, Basis.YTD_PRO_RATA, count(85), Quarter.Q1, count(10),
     D("-7.5"), D("-52.9")),
    ("6.1 PPOs Q2", Direction.REDUCE, Basis.YTD_PRO_RATA, count(85), Quarter.Q2, count(23),
     D(0), D("-45.9")),
]  # fmt: skip


@pytest.mark.parametrize(
    ("direction", "basis", "baseline", "quarter", "figure", "reported", "computed"),
    [row[1:] for row in DISCREPANT_CHANGES],
    ids=[row[0] for row in DISCREPANT_CHANGES],
)
def test_a_reported_change_that_does_not_follow_from_the_figures_is_flagged_and_both_are_kept(
    direction: Direction,
    basis: Basis,
    baseline: Amount,
    quarter: Quarter,
    figure: Amount,
    reported: Decimal,
    computed: Decimal,
) -> None:
    result = judge(direction, basis, Baseline(baseline), quarter, figure, reported=reported)

    assert result.discrepancy is True
    assert result.change is not None
    assert round1(result.change) == computed
    assert result.discrepancy_reason == f"reported change {plain(reported)} but computed {plain(computed)}"


def test_4_2_q1_stated_rate_of_56_percent_for_38_of_76_is_flagged() -> None:
    figure = fraction(38, 76, stated=56)

    result = judge(Direction.INCREASE, Basis.RATE, Baseline(fraction(144, 288, stated=50)), Quarter.Q1, figure)

    assert result.discrepancy is True
    assert result.measured == D(50)
    assert result.discrepancy_reason == "stated rate 56% but 38 of 76 is 50%"


def test_4_2_q1_reported_six_point_increase_on_an_unchanged_rate_is_flagged_too() -> None:
    figure = fraction(38, 76, stated=56)

    result = judge(
        Direction.INCREASE, Basis.RATE, Baseline(fraction(144, 288, stated=50)), Quarter.Q1, figure, reported=D(6)
    )

    assert result.change == 0
    assert result.discrepancy_reason is not None
    assert "reported change 6 but computed 0" in result.discrepancy_reason


def test_3_4_baseline_stated_as_70_percent_for_36_of_46_is_flagged() -> None:
    baseline = fraction(36, 46, stated=70)

    found = discrepancies(Basis.RATE, baseline, None, None)

    assert found == ["stated rate 70% but 36 of 46 is 78.3%"]


# measure, baseline, quarter, figure, basis, report's change
ROUNDED_IN_THE_REPORT = [
    ("6.1 DRRs Q1 (+19.66 written +19.6)", count(117), Quarter.Q1, count(35), Basis.YTD_PRO_RATA, D("19.6")),
    ("5.1 Q2 (-19.498 written 20% reduction)", count(2472), Quarter.Q2, count(995), Basis.YTD_PRO_RATA,
     D(-20)),
    ("5.2 Q2 (-23.5 written 24%)", count(34), Quarter.Q2, count(26), Basis.ROLLING_12_MONTHS, D(-24)),
]  # fmt: skip


@pytest.mark.parametrize(
    ("baseline", "quarter", "figure", "basis", "reported"),
    [row[1:] for row in ROUNDED_IN_THE_REPORT],
    ids=[row[0] for row in ROUNDED_IN_THE_REPORT],
)
def test_a_report_that_only_rounds_the_change_is_not_a_discrepancy(
    baseline: Amount, quarter: Quarter, figure: Amount, basis: Basis, reported: Decimal
) -> None:
    result = judge(Direction.REDUCE, basis, Baseline(baseline), quarter, figure, reported=reported)

    assert result.change is not None
    assert abs(result.change - reported) < 1
    assert result.discrepancy is False
    assert result.discrepancy_reason is None


def test_5_1_q2_is_on_track_at_minus_19_5_percent_against_its_pro_rata_baseline() -> None:
    result = judge(Direction.REDUCE, Basis.YTD_PRO_RATA, Baseline(count(2472)), Quarter.Q2, count(995))

    assert result.status is Status.ON_TRACK
    assert result.change == (D(995) - D(1236)) / D(1236) * 100


def test_a_stricter_plan_threshold_flags_the_5_1_q2_rounding_as_a_discrepancy() -> None:
    result = assess(
        direction=Direction.REDUCE,
        basis=Basis.YTD_PRO_RATA,
        tolerance=TOLERANCE,
        baseline=Baseline(count(2472)),
        quarter=Quarter.Q2,
        amount=count(995),
        reported_change=D(-20),
        threshold=D("0.5"),
    )

    assert result.discrepancy is True
