"""What an officer enters for a measure's component: a baseline or a figure, checked against its definition.

Each function returns the fields of the event that records the entry, or
raises a ValidationError naming the field at fault.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from domain.definition import Definition
from domain.errors import ValidationError
from domain.values import MAX_LABEL, Amount, Basis, Quarter, optional_decimal, text


def baseline_fields(
    definition: Definition, key: str, amount: Amount, period: object, profile: Sequence[object] | None, note: object
) -> dict[str, Any]:
    """A baseline of component `key`: its amount, the period it covers, its quarterly profile, a note."""
    check_amount(amount, definition.basis)
    quarters = parse_profile(profile)
    return {
        "component": key,
        **amount.as_dict(),
        "period": text(period, "period", limit=MAX_LABEL),
        "profile": quarters,
        "note": text(note, "note"),
    }


def figure_fields(
    definition: Definition, key: str, quarter: Quarter, amount: Amount, reported_change: object, commentary: object
) -> dict[str, Any]:
    """A quarter's figure of component `key`, with the change the report states and the officer's commentary."""
    check_amount(amount, definition.basis)
    return {
        "component": key,
        "quarter": quarter.value,
        **amount.as_dict(),
        "reported_change": optional_decimal(reported_change, "reportedChange"),
        "commentary": text(commentary, "commentary"),
    }


def check_amount(amount: Amount, basis: Basis) -> None:
    """Refuse what a measure of `basis` cannot take: no value (but for a rate's fraction), a rate over 100%."""
    if basis is not Basis.RATE and amount.value is None and not amount.is_fraction:
        raise ValidationError("value", "is required", None)
    if basis is Basis.RATE and amount.value is not None and not amount.is_fraction and amount.value > 100:
        raise ValidationError("value", f"a rate cannot exceed 100%, not {amount.value}", amount.value)


def parse_profile(raw: Sequence[object] | None) -> list[Decimal] | None:
    """A baseline's quarterly profile: four non-negative numbers, or None where none is given."""
    if not raw:
        return None
    if len(raw) != 4:
        raise ValidationError("profile", f"needs 4 quarterly values, not {len(raw)}", None)
    quarters: list[Decimal] = []
    for i, value in enumerate(raw):
        q = optional_decimal(value, f"profile[{i}]")
        if q is None or q < 0:
            raise ValidationError(f"profile[{i}]", f"must be a non-negative number, not {value!r}", value)
        quarters.append(q)
    return quarters
