"""Numbers, changes and statuses as the report writes them.

A status is never shown by colour alone: each mark has a symbol and words as
well, and the colours keep a contrast of at least 4.5:1 with their background.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from domain.rules import round1

MINUS = "\u2212"  # a real minus sign: "−19.5", read aloud as "minus"


@dataclass(frozen=True)
class Mark:
    status: str  # the API's name, e.g. ON_TRACK
    symbol: str
    words: str

    @property
    def css(self) -> str:
        return self.status.lower().replace("_", "-")


MARKS = {
    "ON_TRACK": Mark("ON_TRACK", "\u2713", "On track"),  # ✓
    "AT_RISK": Mark("AT_RISK", "\u25b2", "At risk"),  # ▲
    "OFF_TRACK": Mark("OFF_TRACK", "\u2715", "Off track"),  # ✕
    "NO_DATA": Mark("NO_DATA", "\u2013", "No data"),  # –
    "NOT_ASSESSED": Mark("NOT_ASSESSED", "\u25cb", "Not assessed"),  # ○
}
# The order statuses are summarised in: the verdicts first, worst first.
ORDER = ("OFF_TRACK", "AT_RISK", "ON_TRACK", "NOT_ASSESSED", "NO_DATA")


def mark(status: str) -> Mark:
    return MARKS[status]


def number(value: Decimal | None) -> str:
    """A figure as people write it: thousands separated, no trailing zeros, a real minus sign."""
    if value is None:
        return ""
    normal = value.normalize()
    if normal == normal.to_integral_value():
        normal = normal.quantize(Decimal(1))
    text = f"{normal:,}"
    return text.replace("-", MINUS)


def one_place(value: Decimal) -> str:
    """A worked-out rate as reports write it: one decimal place, kept even when it is 0 (`50.0`)."""
    return f"{value.quantize(Decimal('0.1'), rounding=ROUND_HALF_UP):,}".replace("-", MINUS)


def change(value: Decimal | None, points: bool) -> str | None:
    """The change rounded half-up to one place, signed, in percent or in points (RATE)."""
    if value is None:
        return None
    rounded = round1(value)
    sign = "+" if rounded > 0 else ""
    text = f"{sign}{rounded:.1f}".replace("-", MINUS)
    return f"{text} points" if points else f"{text} %"


def plain_change(value: Decimal | None) -> str:
    """The change as the API and the CSV give it: rounded to one place, ASCII."""
    return "" if value is None else str(round1(value))


def amount(value: Decimal | None, numerator: Decimal | None, denominator: Decimal | None, rate: bool) -> str:
    """What a figure or baseline states: `2,472`, `61.9 % (13 of 21)`, `56 %`."""
    fraction = None
    if numerator is not None and denominator is not None:
        fraction = f"{number(numerator)} of {number(denominator)}"
    if rate:
        if fraction is not None and denominator:
            worked = one_place(numerator / denominator * 100) + " %"  # type: ignore[operator]
            return f"{worked} ({fraction})"
        if value is not None:
            return f"{number(value)} %"
        return fraction or ""
    shown = number(value)
    if fraction is not None:
        return f"{shown} ({fraction})" if shown else fraction
    return shown
