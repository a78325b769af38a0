"""What mutations' inputs share: the argument itself, the measure, component or plan a write names first,
and the two fields every write's input ends with, the version the client last read and its idempotency key.

An inherited input type's fields come first in the schema: so the measure, component or plan is inherited
(`MeasureWrite`, `ComponentWrite`, `PlanWrite`), and `write_input` adds the last two after the input's own
fields instead; `Write` declares them for type checkers and readers. `by_name` hands an input's fields (a
query's filter's too) to a command or function that takes them by the same names.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from functools import cache
from typing import Annotated, Any, TypeVar

import strawberry

from service.schema.descriptions import (
    COMPONENT_KEY,
    EXPECTED_MEASURE_VERSION,
    EXPECTED_PLAN_VERSION,
    IDEMPOTENCY_KEY,
    MEASURE_ID,
    MUTATION_INPUT,
    PLAN_ID,
)

T = TypeVar("T")
W = TypeVar("W", bound=type)
R = TypeVar("R")

# A mutation's one argument, `input`: `input: MutationInput[SubmitFigureInput]`.
MutationInput = Annotated[T, strawberry.argument(description=MUTATION_INPUT)]


class Write:
    """A write's input: its own fields, then these two (added by `write_input`)."""

    expected_version: int | None
    idempotency_key: str | None


@strawberry.input(description="A write to one measure: the measure it names comes first.")
class MeasureWrite(Write):
    measure_id: strawberry.ID = strawberry.field(description=MEASURE_ID)


@strawberry.input(description="A write to one component of a measure.")
class ComponentWrite(MeasureWrite):
    component: str = strawberry.field(description=COMPONENT_KEY)


@strawberry.input(description="A write to one plan, checked against the plan's version: the plan comes first.")
class PlanWrite(Write):
    plan_id: strawberry.ID = strawberry.field(description=PLAN_ID)


def write_input(description: str) -> Callable[[W], W]:
    """An input type described by `description`, ending in `expectedVersion` (of the plan for a PlanWrite, else
    of the measure) and `idempotencyKey`, both optional."""

    def make(cls: W) -> W:
        version = EXPECTED_PLAN_VERSION if issubclass(cls, PlanWrite) else EXPECTED_MEASURE_VERSION
        own = cls.__dict__.get("__annotations__", {})
        cls.__annotations__ = {**own, "expected_version": "int | None", "idempotency_key": "str | None"}
        cls.expected_version = strawberry.field(default=None, description=version)  # type: ignore[attr-defined]
        cls.idempotency_key = strawberry.field(default=None, description=IDEMPOTENCY_KEY)  # type: ignore[attr-defined]
        return strawberry.input(description=description)(cls)

    return make


def by_name(target: Callable[..., R], i: Any, **given: Any) -> R:
    """`target` (a command, or a function taking keywords) called with its parameters taken from the input's
    fields of the same names, except those `given` (worked out from the input, or named otherwise)."""
    return target(**{n: getattr(i, n) for n in _parameters(target) if n not in given}, **given)


@cache
def _parameters(target: Callable[..., Any]) -> tuple[str, ...]:
    return tuple(inspect.signature(target).parameters)
