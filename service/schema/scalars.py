"""Scalars of the contract: Decimal travels as a string so no figure loses precision."""

from __future__ import annotations

import decimal

import strawberry


def _parse_decimal(raw: object) -> decimal.Decimal:
    # JSON numbers arrive as int or float; strings keep every digit.
    if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
        raise ValueError(f"Decimal expects a string or a number, not {type(raw).__name__}")
    text = repr(raw) if isinstance(raw, float) else str(raw).strip()
    try:
        value = decimal.Decimal(text)
    except decimal.InvalidOperation:
        raise ValueError(f"{text[:40]!r} is not a decimal number") from None
    if not value.is_finite():
        raise ValueError(f"{text[:40]!r} is not a finite number")
    return value


DecimalScalar = strawberry.scalar(
    name="Decimal",
    description='An exact decimal number, as a string such as "-19.5".',
    serialize=str,
    parse_value=_parse_decimal,
)
