"""The contract's scalars, each with its exact format: Decimal (a string, so no figure loses precision),
Date and DateTime (RFC 3339).

Each parser refuses a value with `Refused`, whose message says what the scalar
takes in the domain's words; service/schema/input_errors.py puts the field's
name in front of it.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re

import dateutil.parser
import strawberry

from domain.values import plain


class Refused(ValueError):
    """A value one of our scalars does not take; its message says what it takes and what was given."""


def _given(raw: object) -> str:
    text = repr(raw)
    return text if len(text) <= 60 else text[:57] + "..."


def _parse_decimal(raw: object) -> decimal.Decimal:
    # JSON numbers arrive as int or float; strings keep every digit.
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise Refused(f'must be a decimal number written as a string, such as "-19.5", not {_given(raw)}')
    text = repr(raw) if isinstance(raw, float) else str(raw).strip()
    try:
        value = decimal.Decimal(text)
    except decimal.InvalidOperation:
        raise Refused(f'must be a decimal number, such as "-19.5", not {_given(raw)}') from None
    if not value.is_finite():
        raise Refused(f"must be a finite decimal number, not {_given(raw)}")
    return value


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _parse_date(raw: object) -> dt.date:
    if isinstance(raw, str) and _DATE.fullmatch(raw):
        try:
            return dt.date.fromisoformat(raw)
        except ValueError:
            pass
    raise Refused(f"must be a date written YYYY-MM-DD, such as 2012-04-01, not {_given(raw)}")


def _parse_datetime(raw: object) -> dt.datetime:
    moment = None
    if isinstance(raw, str):
        try:
            moment = dateutil.parser.isoparse(raw)
        except (ValueError, OverflowError):
            moment = None
    if moment is None or moment.tzinfo is None:
        raise Refused(
            "must be a date and time with a time zone offset, such as 2012-09-25T09:00:00Z or "
            f"2012-09-25T10:00:00+01:00, not {_given(raw)}"
        )
    return moment


def _iso(value: dt.date) -> str:
    return value.isoformat()


DecimalScalar = strawberry.scalar(
    name="Decimal",
    description=(
        'An exact decimal number, as a JSON string: "-19.5", "2472", "61.9047619047619047619047619". '
        "Output: plain digits, a leading `-` if negative, a `.` only before a fraction, no trailing zeros after "
        'it and no exponent ("75", never "75.00" or "7.5E+1"), whatever was typed ("995.0" is served as "995"); '
        "computed values (rates, changes, progress) are exact to 28 significant digits unless a field says it is "
        'rounded, and a rounded one is written the same way ("-52", never "-52.0"): docs/rules.md, Numbers. '
        "Input: such a string (an exponent is accepted), or a JSON number; never NaN or Infinity."
    ),
    serialize=plain,
    parse_value=_parse_decimal,
)

DateScalar = strawberry.scalar(
    name="Date",
    description="A calendar date, RFC 3339's full-date: YYYY-MM-DD, such as 2012-04-01. No time, no time zone.",
    specified_by_url="https://www.rfc-editor.org/rfc/rfc3339#section-5.6",
    serialize=_iso,
    parse_value=_parse_date,
)

DateTimeScalar = strawberry.scalar(
    name="DateTime",
    description=(
        "A moment, as RFC 3339's date-time. Output: always in UTC, `+00:00`, with microseconds where they are "
        "not zero (2012-09-25T09:00:00+00:00, 2012-09-25T09:00:00.123456+00:00). Input: an offset is required "
        "(2012-09-25T09:00:00Z, 2012-09-25T10:00:00+01:00); a time without one is refused."
    ),
    specified_by_url="https://www.rfc-editor.org/rfc/rfc3339#section-5.6",
    serialize=dt.datetime.isoformat,
    parse_value=_parse_datetime,
)

SCALARS: dict[object, object] = {decimal.Decimal: DecimalScalar, dt.date: DateScalar, dt.datetime: DateTimeScalar}
