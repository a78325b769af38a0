"""What a revision of a figure changes: the figure after it, and every field it changed, before and after.

A revision changes only the fields it gives: a field left out (or given as
null) keeps its value, and a field is cleared only by naming it in `clear`.
A revision that would leave the figure exactly as it is is refused, so that
every new entry of a figure's history changes something (one recorded before
that rule comes back from a plan file as it stands).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from enum import StrEnum
from typing import Any, NamedTuple

from domain.definition import Definition
from domain.entries import figure_fields
from domain.errors import NoChangeError, ValidationError
from domain.records import FigureRecord
from domain.values import Amount, Quarter, parse_amount, parse_enum, plain


class FigureField(StrEnum):
    """A field of a figure that a revision may clear."""

    VALUE = "VALUE"
    NUMERATOR = "NUMERATOR"
    DENOMINATOR = "DENOMINATOR"
    REPORTED_CHANGE = "REPORTED_CHANGE"
    COMMENTARY = "COMMENTARY"


# The amount's parts, by their names in Amount and in `clear`.
AMOUNT_PARTS = (
    ("value", FigureField.VALUE),
    ("numerator", FigureField.NUMERATOR),
    ("denominator", FigureField.DENOMINATOR),
)


class FieldChange(NamedTuple):
    """One field an event changed, before and after, as text (None where it had or has no value).

    A named tuple, as AuditFacts (domain/audit.py): several are made for every figure event projected."""

    field: str  # the API's name: value, numerator, denominator, reportedChange, commentary, availability
    before: str | None
    after: str | None


def revised_figure_fields(
    definition: Definition,
    key: str,
    quarter: Quarter,
    previous: FigureRecord,
    given: Amount | None,
    reported_change: object,
    commentary: object,
    clear: Iterable[object],
    unchanged_allowed: bool = False,
) -> dict[str, Any]:
    """The fields of the FigureRevised event: `previous` with what is given put in and what is cleared taken out.

    Raises NoChangeError where that is `previous` unchanged (unless `unchanged_allowed`), and ValidationError
    naming the field at fault.
    """
    cleared = {parse_enum(FigureField, raw, "clear") for raw in clear}
    amount = given or Amount()
    given_parts = [(getattr(amount, name), part) for name, part in AMOUNT_PARTS]
    given_parts += [(reported_change, FigureField.REPORTED_CHANGE), (commentary, FigureField.COMMENTARY)]
    both = [part.value for raw, part in given_parts if raw is not None and part in cleared]
    if both:
        named = ", ".join(both)
        message = f"{named} is both given and cleared: give a new value or clear it, not both"
        raise ValidationError("clear", message, named)
    if isinstance(commentary, str) and not commentary.strip():
        raise ValidationError("commentary", "is blank: to remove the commentary, list COMMENTARY in clear", commentary)
    kept = previous.amount or Amount()
    parts = [
        None if part in cleared else getattr(amount, name) if getattr(amount, name) is not None else getattr(kept, name)
        for name, part in AMOUNT_PARTS
    ]
    if all(p is None for p in parts):
        if previous.available:
            raise ValidationError(
                "clear",
                "would leave the figure with no value: keep a value or a numerator and a denominator, "
                "or use markFigureUnavailable to say it could not be had",
                None,
            )
        raise ValidationError(
            "value",
            f"{key!r} {quarter.value} is marked unavailable: give a value, or a numerator and a denominator",
            None,
        )
    fields = figure_fields(
        definition,
        key,
        quarter,
        parse_amount(parts[0], parts[1], parts[2]),
        None if FigureField.REPORTED_CHANGE in cleared else _given_or(reported_change, previous.reported_change),
        None if FigureField.COMMENTARY in cleared else _given_or(commentary, previous.commentary),
    )
    if previous.available and not unchanged_allowed and _same_figure(previous, fields):
        raise NoChangeError(
            "input",
            f"changes nothing: {key!r} {quarter.value} already has these values; give a field a new value, "
            "or name the fields to remove in clear",
            None,
        )
    return fields


def _given_or(given: object, kept: object) -> object:
    return kept if given is None else given


COMPARED = ("value", "numerator", "denominator", "reported_change", "commentary")


def _same_figure(previous: FigureRecord, fields: dict[str, Any]) -> bool:
    # Numbers compare by value: 995.0 is 995, as the API shows both.
    amount = previous.amount or Amount()
    before = (amount.value, amount.numerator, amount.denominator, previous.reported_change, previous.commentary)
    return before == tuple(fields[name] for name in COMPARED)


def figure_changes(before: FigureRecord | None, after: FigureRecord) -> tuple[FieldChange, ...]:
    """Every field of a figure that differs between two of its records (`before` None: none yet), in a fixed order.

    A field differs where its text does. Numbers equal in value have the same text (`plain`), so only the fields
    whose values differ are written out to be compared: most of a revision's fields are as they were.
    """
    new_amount = after.amount or NO_AMOUNT
    new_availability = "available" if after.amount is not None else f"unavailable: {after.unavailable_reason}"
    if before is None:
        old_amount, old_change, old_commentary, old_availability = NO_AMOUNT, None, None, None
    else:
        old_amount, old_change, old_commentary = before.amount or NO_AMOUNT, before.reported_change, before.commentary
        old_availability = "available" if before.amount is not None else f"unavailable: {before.unavailable_reason}"
    # One field at a time, each made a FieldChange only where it differs: this runs for every figure event. The
    # tuples are made as FieldChange(...) makes them, without the named tuple's own __new__ in between.
    changes: list[FieldChange] = []
    old, new = old_amount.value, new_amount.value
    if old != new:
        changes.append(_numbers("value", old, new))
    old, new = old_amount.numerator, new_amount.numerator
    if old != new:
        changes.append(_numbers("numerator", old, new))
    old, new = old_amount.denominator, new_amount.denominator
    if old != new:
        changes.append(_numbers("denominator", old, new))
    old, new = old_change, after.reported_change
    if old != new:
        changes.append(_numbers("reportedChange", old, new))
    if old_commentary != after.commentary:
        changes.append(_new(FieldChange, ("commentary", old_commentary, after.commentary)))
    if old_availability != new_availability:
        changes.append(_new(FieldChange, ("availability", old_availability, new_availability)))
    return tuple(changes)


NO_AMOUNT = Amount()
_new = tuple.__new__


def _numbers(field: str, old: Decimal | None, new: Decimal | None) -> FieldChange:
    return _new(FieldChange, (field, None if old is None else plain(old), None if new is None else plain(new)))
