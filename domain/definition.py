"""What a measure measures: its title, direction, basis, tolerance, unit and components."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from domain.errors import ValidationError
from domain.values import MAX_LABEL, Basis, Direction, optional_decimal, parse_component_key, required_text, text

DEFAULT_TOLERANCE = Decimal(5)


@dataclass(frozen=True)
class Component:
    key: str
    label: str


@dataclass(frozen=True)
class Definition:
    title: str
    description: str | None
    direction: Direction
    basis: Basis
    tolerance: Decimal
    unit: str | None
    components: tuple[Component, ...]


def parse_definition(
    *,
    title: object,
    description: object,
    direction: Direction,
    basis: Basis,
    tolerance: object,
    unit: object,
    components: list[tuple[object, object]],
) -> Definition:
    """Check a measure definition: a target needs a basis, components need unique keys."""
    tol = optional_decimal(tolerance, "tolerance")
    if tol is None:
        tol = DEFAULT_TOLERANCE
    if tol < 0 or tol > 100:
        raise ValidationError("tolerance", f"must be between 0 and 100, not {tol}", tol)
    if direction is Direction.MONITOR and basis is not Basis.NONE:
        raise ValidationError("basis", f"a MONITOR measure has basis NONE, not {basis.value}", basis.value)
    if direction is not Direction.MONITOR and basis is Basis.NONE:
        raise ValidationError("basis", f"a {direction.value} measure needs a basis other than NONE", basis.value)
    if not components:
        raise ValidationError("components", "a measure needs at least one component", None)
    parsed: list[Component] = []
    for i, (key, label) in enumerate(components):
        k = parse_component_key(key, f"components[{i}].key")
        if any(c.key == k for c in parsed):
            raise ValidationError(f"components[{i}].key", f"{k!r} appears twice", k)
        parsed.append(Component(k, required_text(label, f"components[{i}].label", limit=MAX_LABEL)))
    return Definition(
        title=required_text(title, "title", limit=MAX_LABEL),
        description=text(description, "description"),
        direction=direction,
        basis=basis,
        tolerance=tol,
        unit=text(unit, "unit", limit=MAX_LABEL),
        components=tuple(parsed),
    )


def definition_fields(definition: Definition) -> dict[str, Any]:
    """A definition as the fields of the event that records it."""
    return {
        "title": definition.title,
        "description": definition.description,
        "direction": definition.direction.value,
        "basis": definition.basis.value,
        "tolerance": definition.tolerance,
        "unit": definition.unit,
        "components": [{"key": c.key, "label": c.label} for c in definition.components],
    }


def definition_of(event: Any) -> Definition:
    """The definition an event recorded with `definition_fields`."""
    return Definition(
        title=event.title,
        description=event.description,
        direction=Direction(event.direction),
        basis=Basis(event.basis),
        tolerance=event.tolerance,
        unit=event.unit,
        components=tuple(Component(c["key"], c["label"]) for c in event.components),
    )
