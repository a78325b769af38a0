"""The 2012-13 report, checked by hand (docs/rules.md#the-2012-13-plan-checked-by-hand), reproduced by the rules."""

from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple

import pytest

from domain.rules import Assessment, Baseline, assess, discrepancies, round1
from domain.values import Amount, Basis, Direction, Quarter, Status, plain
from tests.cases import named

D = Decimal
TOLERANCE = D(5)
REDUCE, INCREASE, MAINTAIN = Direction.REDUCE, Direction.INCREASE, Direction.MAINTAIN
YTD, ROLLING = Basis.YTD_PRO_RATA, Basis.ROLLING_12_MONTHS
Q1, Q2 = Quarter.Q1, Quarter.Q2


def count(value: int | str) -> Amount:
    return Amount(value=D(value))


def fraction(numerator: int, denominator: int, stated: int | str | None = None) -> Amount:
    return Amount(
        value=None if stated is None else D(stated),
        numerator=D(numerator),
        denominator=D(denominator),
    )


class Figure(NamedTuple):
    """A figure of the report with what the plan judges it by."""

    direction: Direction
    basis: Basis
    baseline: Amount
    quarter: Quarter
    amount: Amount


def judge(figure: Figure, reported: Decimal | None = None) -> Assessment:
    """The figure assessed as the plan assesses it, with the report's 5% tolerance."""
    direction, basis, baseline, quarter, amount = figure
    return assess(
        direction=direction,
        basis=basis,
        tolerance=TOLERANCE,
        baseline=Baseline(baseline),
        quarter=quarter,
        amount=amount,
        reported_change=reported,
    )


# measure, figure, comparison, computed (rounded), report's change
HAND_CHECKED = [
    ("2.1 s27 notices Q1", Figure(INCREASE, YTD, count(392), Q1, count(120)), D(98), D("22.4"), D("22.4")),
    ("3.2 Stockton Town Centre Q1", Figure(REDUCE, YTD, count(506), Q1, count(126)), D("126.5"), D("-0.4"), D("-0.4")),
    ("3.2 Yarm Q1", Figure(REDUCE, YTD, count(46), Q1, count(11)), D("11.5"), D("-4.3"), D("-4.3")),
    ("1.3 MAASBT Q1", Figure(REDUCE, YTD, count(3573), Q1, count(1195)), D("893.25"), D("33.8"), D("33.8")),
    ("1.3 MAASBT Q2", Figure(REDUCE, YTD, count(3573), Q2, count(2507)), D("1786.5"), D("40.3"), D("40.3")),
    ("1.3 Police Q2", Figure(REDUCE, YTD, count(14965), Q2, count(6299)), D("7482.5"), D("-15.8"), D(-16)),
    ("4.3 Q1 rolling", Figure(REDUCE, ROLLING, count(52), Q1, count(47)), D(52), D("-9.6"), D("-9.6")),
    ("4.3 Q2 rolling", Figure(REDUCE, ROLLING, count(52), Q2, count(42)), D(52), D("-19.2"), D(-19)),
    ("5.1 Q2", Figure(REDUCE, YTD, count(2472), Q2, count(995)), D(1236), D("-19.5"), D(-20)),
    ("5.2 Q2 rolling", Figure(REDUCE, ROLLING, count(34), Q2, count(26)), D(34), D("-23.5"), D(-24)),
    ("6.1 HCCs Q1", Figure(REDUCE, YTD, count(245), Q1, count(33)), D("61.25"), D("-46.1"), D("-46.1")),
    ("6.1 HCCs Q2", Figure(REDUCE, YTD, count(245), Q2, count(80)), D("122.5"), D("-34.7"), D("-34.7")),
    ("6.1 DRRs Q1", Figure(REDUCE, YTD, count(117), Q1, count(35)), D("29.25"), D("19.7"), D("19.6")),
    ("6.1 DRRs Q2", Figure(REDUCE, YTD, count(117), Q2, count(66)), D("58.5"), D("12.8"), D("12.8")),
]  # fmt: skip


@pytest.mark.parametrize(("figure", "comparison", "computed", "reported"), named(HAND_CHECKED))
def test_each_hand_checked_figure_gives_the_comparison_and_change_worked_out_by_hand(
    figure: Figure, comparison: Decimal, computed: Decimal, reported: Decimal
) -> None:
    result = judge(figure, reported=reported)

    assert result.comparison == comparison
    assert result.change is not None
    assert round1(result.change) == computed
    assert result.discrepancy is False, result.discrepancy_reason


RATE_ROWS = [
    ("3.4 Q1 rate", Quarter.Q1, fraction(13, 21, stated=62), D("61.9")),
    ("3.4 Q2 rate", Quarter.Q2, fraction(6, 13, stated=46), D("46.2")),
]


@pytest.mark.parametrize(("quarter", "figure", "rate"), named(RATE_ROWS))
def test_a_rate_figure_is_measured_from_its_fraction_against_the_baseline_rate(
    quarter: Quarter, figure: Amount, rate: Decimal
) -> None:
    result = judge(Figure(INCREASE, Basis.RATE, fraction(36, 46), quarter, figure))

    assert result.measured is not None
    assert round1(result.measured) == rate
    assert result.comparison == D(36) / D(46) * 100
    assert result.change == result.measured - result.comparison
    assert result.discrepancy is False, result.discrepancy_reason


# measure, figure, report's change, computed (rounded)
DISCREPANT_CHANGES = [
    ("1.3 Police Q1", Figure(REDUCE, YTD, count(14965), Q1, count(3079)), D("-28.1"), D("-17.7")),
    ("5.1 Q1", Figure(REDUCE, YTD, count(2472), Q1, count(492)), D("-16.3"), D("-20.4")),
    ("2.1 Q2", Figure(INCREASE, YTD, count(392), Q2, count(237)), D("19.7"), D("20.9")),
    ("3.1 Q1", Figure(MAINTAIN, YTD, count(100), Q1, count(12)), D(-56), D("-52.0")),
    ("6.1 PPOs Q1", Figure(REDUCE, YTD, count(85), Q1, count(10)), D("-7.5"), D("-52.9")),
    ("6.1 PPOs Q2", Figure(REDUCE, YTD, count(85), Q2, count(23)), D(0), D("-45.9")),
]  # fmt: skip


@pytest.mark.parametrize(("figure", "reported", "computed"), named(DISCREPANT_CHANGES))
def test_a_reported_change_that_does_not_follow_from_the_figures_is_flagged_and_both_are_kept(
    figure: Figure, reported: Decimal, computed: Decimal
) -> None:
    result = judge(figure, reported=reported)

    assert result.discrepancy is True
    assert result.change is not None
    assert round1(result.change) == computed
    assert result.discrepancy_reason == f"reported change {plain(reported)} but computed {plain(computed)}"


def test_4_2_q1_stated_rate_of_56_percent_for_38_of_76_is_flagged() -> None:
    figure = Figure(INCREASE, Basis.RATE, fraction(144, 288, stated=50), Q1, fraction(38, 76, stated=56))

    result = judge(figure)

    assert result.discrepancy is True
    assert result.measured == D(50)
    assert result.discrepancy_reason == "stated rate 56% but 38 of 76 is 50%"


def test_4_2_q1_reported_six_point_increase_on_an_unchanged_rate_is_flagged_too() -> None:
    figure = Figure(INCREASE, Basis.RATE, fraction(144, 288, stated=50), Q1, fraction(38, 76, stated=56))

    result = judge(figure, reported=D(6))

    assert result.change == 0
    assert result.discrepancy_reason is not None
    assert "reported change 6 but computed 0" in result.discrepancy_reason


def test_3_4_baseline_stated_as_70_percent_for_36_of_46_is_flagged() -> None:
    baseline = fraction(36, 46, stated=70)

    found = discrepancies(Basis.RATE, baseline, None, None)

    assert found == ["stated rate 70% but 36 of 46 is 78.3%"]


# measure, figure, report's change
ROUNDED_IN_THE_REPORT = [
    ("6.1 DRRs Q1 (+19.66 written +19.6)", Figure(REDUCE, YTD, count(117), Q1, count(35)), D("19.6")),
    ("5.1 Q2 (-19.498 written 20% reduction)", Figure(REDUCE, YTD, count(2472), Q2, count(995)), D(-20)),
    ("5.2 Q2 (-23.5 written 24%)", Figure(REDUCE, ROLLING, count(34), Q2, count(26)), D(-24)),
]


@pytest.mark.parametrize(("figure", "reported"), named(ROUNDED_IN_THE_REPORT))
def test_a_report_that_only_rounds_the_change_is_not_a_discrepancy(figure: Figure, reported: Decimal) -> None:
    result = judge(figure, reported=reported)

    assert result.change is not None
    assert abs(result.change - reported) < 1
    assert result.discrepancy is False
    assert result.discrepancy_reason is None


def test_5_1_q2_is_on_track_at_minus_19_5_percent_against_its_pro_rata_baseline() -> None:
    result = judge(Figure(REDUCE, YTD, count(2472), Q2, count(995)))

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
