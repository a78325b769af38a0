"""Value types of the domain: quarters, directions, bases, statuses and amounts."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import Enum, StrEnum
from typing import TypeVar

from domain.errors import ValidationError

MAX_TEXT = 20_000
MAX_LABEL = 500
COMPONENT_KEY = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


class Quarter(StrEnum):
    Q1 = "Q1"
    Q2 = "Q2"
    Q3 = "Q3"
    Q4 = "Q4"

    @property
    def number(self) -> int:
        # A dict lookup: `.value` is itself a Python-level property, and the rules ask this per figure.
        return QUARTER_NUMBER[self]

    @classmethod
    def parse(cls, raw: object, field: str = "quarter") -> Quarter:
        try:
            return cls(str(raw).strip().upper())
        except ValueError:
            raise ValidationError(field, f"must be one of Q1, Q2, Q3, Q4, not {raw!r}", raw) from None


# 1..4 by quarter; and the member by its text, cheaper than `Quarter(text)`'s enum machinery.
QUARTER_NUMBER: dict[Quarter, int] = {q: int(q.value[1]) for q in Quarter}
QUARTER_OF: dict[str, Quarter] = {q.value: q for q in Quarter}


class Direction(StrEnum):
    REDUCE = "REDUCE"
    INCREASE = "INCREASE"
    MAINTAIN = "MAINTAIN"
    MONITOR = "MONITOR"


class Basis(StrEnum):
    YTD_PRO_RATA = "YTD_PRO_RATA"
    ROLLING_12_MONTHS = "ROLLING_12_MONTHS"
    RATE = "RATE"
    TARGET_COUNT = "TARGET_COUNT"
    NONE = "NONE"


class Status(StrEnum):
    ON_TRACK = "ON_TRACK"
    AT_RISK = "AT_RISK"
    OFF_TRACK = "OFF_TRACK"
    NO_DATA = "NO_DATA"
    NOT_ASSESSED = "NOT_ASSESSED"


E = TypeVar("E", bound=Enum)


def parse_enum(kind: type[E], raw: object, field: str) -> E:
    try:
        return kind(str(raw).strip().upper())
    except ValueError:
        allowed = ", ".join(str(m.value) for m in kind)
        raise ValidationError(field, f"must be one of {allowed}, not {raw!r}", raw) from None


def to_decimal(raw: object, field: str) -> Decimal:
    """A finite Decimal from a number or a numeric string; never via float."""
    if isinstance(raw, bool):
        raise ValidationError(field, f"must be a number, not {raw!r}", raw)
    if isinstance(raw, float):
        raw = repr(raw)
    try:
        value = raw if isinstance(raw, Decimal) else Decimal(str(raw).strip())
    except (InvalidOperation, ValueError):
        raise ValidationError(field, f"must be a number, not {str(raw)[:40]!r}", raw) from None
    if not value.is_finite():
        raise ValidationError(field, f"must be a finite number, not {raw!r}", raw)
    if abs(value.adjusted()) > 15:
        raise ValidationError(field, f"is out of range: {str(raw)[:40]!r}", raw)
    return value


def plain(value: Decimal) -> str:
    """A number as the ledger writes every number: plain digits, a `.` only before a fraction, no trailing
    zeros after it, no exponent, no negative zero: `75`, `-19.5`, `1000` (never `75.00`, `1E+3` or `-0`)."""
    text = str(value)
    if "E" not in text and not (("." in text and text.endswith("0")) or text == "-0"):
        return text  # most numbers: already so
    text = format(value, "f")  # positional, every digit kept
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def optional_decimal(raw: object, field: str) -> Decimal | None:
    return None if raw is None or raw == "" else to_decimal(raw, field)


def text(raw: object, field: str, *, limit: int = MAX_TEXT, required: bool = False) -> str | None:
    """Trimmed text within a length limit; required text may not be blank."""
    if raw is None:
        if required:
            raise ValidationError(field, "is required", raw)
        return None
    if not isinstance(raw, str):
        raise ValidationError(field, "must be text", raw)
    value = raw.strip()
    if required and not value:
        raise ValidationError(field, "must not be blank", raw)
    if len(value) > limit:
        raise ValidationError(field, f"is {len(value)} characters long; the limit is {limit}", None)
    return value or None


def required_text(raw: object, field: str, *, limit: int = MAX_TEXT) -> str:
    value = text(raw, field, limit=limit, required=True)
    assert value is not None
    return value


@dataclass(frozen=True)
class Amount:
    """A reported quantity: a count or percentage, or numerator/denominator, or both.

    When both are given, `value` is the percentage as stated and the fraction is
    what it was stated from, so a wrong sum shows up as a discrepancy.
    """

    value: Decimal | None = None
    numerator: Decimal | None = None
    denominator: Decimal | None = None

    @property
    def is_fraction(self) -> bool:
        return self.numerator is not None and self.denominator is not None

    def as_dict(self) -> dict[str, Decimal | None]:
        return {
            "value": self.value,
            "numerator": self.numerator,
            "denominator": self.denominator,
        }


def parse_amount(value: object, numerator: object, denominator: object, field: str = "value") -> Amount:
    """Check an amount: non-negative, a positive denominator, a numerator within it."""
    v = optional_decimal(value, field)
    n = optional_decimal(numerator, "numerator")
    d = optional_decimal(denominator, "denominator")
    if v is None and n is None and d is None:
        raise ValidationError(field, "give a value, or a numerator and a denominator", None)
    if (n is None) != (d is None):
        missing = "denominator" if d is None else "numerator"
        raise ValidationError(
            missing,
            "is required with a " + ("numerator" if d is None else "denominator"),
            None,
        )
    if v is not None and v < 0:
        raise ValidationError(field, f"must not be negative, not {v}", v)
    if n is not None and d is not None:
        if n < 0:
            raise ValidationError("numerator", f"must not be negative, not {n}", n)
        if d <= 0:
            raise ValidationError("denominator", f"must be greater than zero, not {d}", d)
        if n > d:
            raise ValidationError("numerator", f"{n} is greater than the denominator {d}", n)
    return Amount(v, n, d)


def parse_component_key(raw: object, field: str = "component") -> str:
    key = required_text(raw, field, limit=63)
    if not COMPONENT_KEY.match(key):
        raise ValidationError(field, f"must be lower-case letters, digits and dashes, not {key!r}", key)
    return key
