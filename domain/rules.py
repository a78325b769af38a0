"""The rules of docs/rules.md as pure functions: comparison, change, status, discrepancy.

Projections and mutation payloads call these and nothing else, so a figure
shows the same change and status wherever it is read.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple

from domain.values import QUARTER_NUMBER, Amount, Basis, Direction, Quarter, Status, plain

HUNDRED = Decimal(100)
FOUR = Decimal(4)
DEFAULT_TOLERANCE = Decimal(5)
DEFAULT_DISCREPANCY_THRESHOLD = Decimal("1.0")
TENTH = Decimal("0.1")
ZERO = Decimal(0)
# How much a status weighs in a quarter's: any assessed status outweighs NOT_ASSESSED (data, but
# nothing to assess it by), which outweighs NO_DATA; among assessed ones the most severe wins.
WEIGHT = {Status.NO_DATA: 0, Status.NOT_ASSESSED: 1, Status.ON_TRACK: 2, Status.AT_RISK: 3, Status.OFF_TRACK: 4}


@dataclass(frozen=True)
class Baseline:
    """The reference a component is compared with."""

    amount: Amount
    profile: tuple[Decimal, ...] | None = None


class Assessment(NamedTuple):
    """A figure's verdict, with everything it was computed from.

    A named tuple, as the audit's facts (domain/audit.py): one is made for every figure a projection assesses,
    and a tuple is made in one step where a frozen dataclass sets each field in turn."""

    status: Status
    rule: str
    measured: Decimal | None = None
    comparison: Decimal | None = None
    change: Decimal | None = None
    discrepancy: bool = False
    discrepancy_reason: str | None = None
    rate: Decimal | None = None  # the figure's rate in percent, where it is a rate (rate_shown)
    progress: Decimal | None = None  # TARGET_COUNT: percent of the year's target reached (progress)


def round1(value: Decimal) -> Decimal:
    """Half-up to one decimal place, as the report shows changes."""
    return value.quantize(TENTH, rounding=ROUND_HALF_UP)


def shown(value: Decimal) -> str:
    """A computed number in a sentence (a rule, a discrepancy's reason): rounded as `round1`, written `plain`."""
    # plain(round1(value)) without its general case: a number quantized to tenths is always written with one
    # digit after the point and no exponent, so only a trailing ".0" and a negative zero are to be put right.
    text = str(value.quantize(TENTH, rounding=ROUND_HALF_UP))
    if text[-1] == "0":
        text = text[:-2]
        if text == "-0":
            return "0"
    return text


# `plain` of a tolerance, by its value: a measure's rule names its tolerance on every figure assessed, and a plan
# has only a handful of tolerances (bounded all the same).
_PLAIN_TOLERANCE: dict[Decimal, str] = {}


def _plain_tolerance(tolerance: Decimal) -> str:
    text = _PLAIN_TOLERANCE.get(tolerance)
    if text is None:
        text = plain(tolerance)
        if len(_PLAIN_TOLERANCE) < 256:
            _PLAIN_TOLERANCE[tolerance] = text
    return text


def rate_of(amount: Amount) -> Decimal | None:
    """The percentage an amount stands for: from its fraction when it has one."""
    if amount.numerator is not None and amount.denominator:
        return amount.numerator / amount.denominator * HUNDRED
    return amount.value


def rate_shown(basis: Basis, amount: Amount) -> Decimal | None:
    """The rate an amount stands for, in percent, where it is a rate: worked out from its fraction when it has one
    (whatever the basis), else the value of a RATE measure; None for a count."""
    if amount.is_fraction or basis is Basis.RATE:
        return rate_of(amount)
    return None


def progress(basis: Basis, baseline: Baseline | None, measured: Decimal | None) -> Decimal | None:
    """TARGET_COUNT: the figure as a percentage of the year's target (6.2 at Q2: 2 of 4 is 50); None otherwise,
    or where the target is zero or unknown."""
    if basis is not Basis.TARGET_COUNT or baseline is None or measured is None:
        return None
    target = measured_value(basis, baseline.amount)
    if not target:
        return None
    return measured / target * HUNDRED


def measured_value(basis: Basis, amount: Amount) -> Decimal | None:
    """The number compared with the baseline: a rate for RATE, else the value."""
    if basis is Basis.RATE:
        return rate_of(amount)
    return amount.value if amount.value is not None else rate_of(amount)


def comparison_value(basis: Basis, baseline: Baseline | None, quarter: Quarter) -> Decimal | None:
    """What a quarter's figure is held against, or None where nothing applies."""
    if baseline is None or basis is Basis.NONE:
        return None
    q = QUARTER_NUMBER[quarter]
    if basis is Basis.YTD_PRO_RATA and baseline.profile:
        return sum(baseline.profile[:q], ZERO)
    base = measured_value(basis, baseline.amount)
    if base is None:
        return None
    if basis in (Basis.YTD_PRO_RATA, Basis.TARGET_COUNT):
        return base * q / FOUR
    return base


def change(basis: Basis, measured: Decimal, comparison: Decimal) -> Decimal | None:
    """Percent change, or percentage points for RATE; None where it is undefined."""
    if basis is Basis.RATE:
        return measured - comparison
    if comparison == 0:
        return None
    return (measured - comparison) / comparison * HUNDRED


def _banded(direction: Direction, ch: Decimal, tolerance: Decimal) -> tuple[Status, str]:
    t = _plain_tolerance(tolerance)
    if direction is Direction.REDUCE:
        if ch <= -tolerance:
            return Status.ON_TRACK, f"REDUCE: change {shown(ch)} <= -{t}"
        if ch >= tolerance:
            return Status.OFF_TRACK, f"REDUCE: change {shown(ch)} >= +{t}"
        return Status.AT_RISK, f"REDUCE: change {shown(ch)} within ±{t}"
    if direction is Direction.INCREASE:
        if ch >= tolerance:
            return Status.ON_TRACK, f"INCREASE: change {shown(ch)} >= +{t}"
        if ch <= -tolerance:
            return Status.OFF_TRACK, f"INCREASE: change {shown(ch)} <= -{t}"
        return Status.AT_RISK, f"INCREASE: change {shown(ch)} within ±{t}"
    # MAINTAIN: keep at or below the baseline.
    if ch <= 0:
        return Status.ON_TRACK, f"MAINTAIN: change {shown(ch)} <= 0"
    if ch < tolerance:
        return (
            Status.AT_RISK,
            f"MAINTAIN: change {shown(ch)} between 0 and {t}",
        )
    return Status.OFF_TRACK, f"MAINTAIN: change {shown(ch)} >= {t}"


def _target(measured: Decimal, comparison: Decimal, tolerance: Decimal) -> tuple[Status, str]:
    # Counts and their pro-rata share: written plain, unrounded (a share of a target is at most two places).
    m, c, t = plain(measured), plain(comparison), _plain_tolerance(tolerance)
    if measured >= comparison:
        return Status.ON_TRACK, f"TARGET_COUNT: {m} >= {c}"
    if measured >= comparison * (HUNDRED - tolerance) / HUNDRED:
        return Status.AT_RISK, f"TARGET_COUNT: {m} within {t}% below {c}"
    return Status.OFF_TRACK, f"TARGET_COUNT: {m} more than {t}% below {c}"


def discrepancies(
    basis: Basis,
    amount: Amount,
    reported_change: Decimal | None,
    computed_change: Decimal | None,
    threshold: Decimal = DEFAULT_DISCREPANCY_THRESHOLD,
) -> list[str]:
    """Where the officer's own arithmetic disagrees with ours by the threshold or more."""
    reason = _discrepancy(amount, rate_of(amount), reported_change, computed_change, threshold)
    # Neither finding has a "; " of its own: its numbers are written plain.
    return reason.split("; ") if reason else []


def discrepancy_reason(amount: Amount, threshold: Decimal = DEFAULT_DISCREPANCY_THRESHOLD) -> str | None:
    """`discrepancies` of an amount alone (a baseline's), joined as a reason; None where there are none."""
    return _discrepancy(amount, rate_of(amount), None, None, threshold)


def _discrepancy(
    amount: Amount,
    computed_rate: Decimal | None,
    reported_change: Decimal | None,
    computed_change: Decimal | None,
    threshold: Decimal,
) -> str | None:
    """`discrepancies` joined with "; ", None where there are none, given the amount's `rate_of`."""
    reason = None
    value, n, d = amount.value, amount.numerator, amount.denominator
    if value is not None and n is not None and d is not None:
        assert computed_rate is not None
        if abs(value - computed_rate) >= threshold:
            reason = f"stated rate {plain(value)}% but {plain(n)} of {plain(d)} is {shown(computed_rate)}%"
    if reported_change is not None and computed_change is not None:
        if abs(reported_change - computed_change) >= threshold:
            found = f"reported change {plain(reported_change)} but computed {shown(computed_change)}"
            reason = found if reason is None else f"{reason}; {found}"
    return reason


NO_FIGURE = Assessment(Status.NO_DATA, "no figure for this quarter")
_new = tuple.__new__


def assess(
    *,
    direction: Direction,
    basis: Basis,
    tolerance: Decimal,
    baseline: Baseline | None,
    quarter: Quarter,
    amount: Amount | None,
    reported_change: Decimal | None = None,
    threshold: Decimal = DEFAULT_DISCREPANCY_THRESHOLD,
) -> Assessment:
    """The status of one component in one quarter, explained."""
    if amount is None:
        return NO_FIGURE
    # The amount's rate (rate_of) worked out once, for measured_value, discrepancies and rate_shown alike: this runs
    # for every figure assessed.
    own_rate = rate_of(amount)
    if basis is Basis.RATE:
        measured, rate = own_rate, own_rate
    else:
        measured = amount.value if amount.value is not None else own_rate
        rate = own_rate if amount.numerator is not None and amount.denominator is not None else None
    comparison = comparison_value(basis, baseline, quarter)
    ch = change(basis, measured, comparison) if measured is not None and comparison is not None else None
    status, rule = _verdict(direction, basis, tolerance, baseline, measured, comparison, ch)
    reason = _discrepancy(amount, own_rate, reported_change, ch, threshold)
    reached = progress(basis, baseline, measured) if basis is Basis.TARGET_COUNT else None
    # The tuple Assessment(...) makes, without the named tuple's own __new__ in between.
    made: Assessment = _new(
        Assessment, (status, rule, measured, comparison, ch, reason is not None, reason, rate, reached)
    )
    return made


def _verdict(
    direction: Direction,
    basis: Basis,
    tolerance: Decimal,
    baseline: Baseline | None,
    measured: Decimal | None,
    comparison: Decimal | None,
    ch: Decimal | None,
) -> tuple[Status, str]:
    if direction is Direction.MONITOR or basis is Basis.NONE:
        return Status.NOT_ASSESSED, "MONITOR: no target"
    if baseline is None:
        return Status.NOT_ASSESSED, "no baseline to compare with"
    if comparison is None:
        return Status.NOT_ASSESSED, "the baseline gives no value to compare with"
    if measured is None:
        return Status.NOT_ASSESSED, "the figure gives no comparable value"
    if basis is Basis.TARGET_COUNT:
        if comparison == 0:
            return Status.NOT_ASSESSED, "the target is zero"
        return _target(measured, comparison, tolerance)
    if ch is None:
        return Status.NOT_ASSESSED, "the baseline is zero: a percentage change is undefined"
    return _banded(direction, ch, tolerance)


def worst(statuses: Iterable[Status]) -> Status:
    """A measure's status in a quarter: the worst assessed component.

    NOT_ASSESSED where components have data but none could be assessed, and
    NO_DATA only where every component lacks data.
    """
    return max(statuses, key=WEIGHT.__getitem__, default=Status.NO_DATA)


def current_quarter(reported: Sequence[Quarter]) -> Quarter | None:
    """The latest quarter with a figure or an override."""
    return max(reported, key=QUARTER_NUMBER.__getitem__) if reported else None
