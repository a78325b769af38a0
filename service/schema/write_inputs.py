"""What mutations' inputs share: the argument itself, and the two fields every write's input ends with,
the version the client last read and its idempotency key.

An inherited input type's fields would come first in the schema, so `write_input` adds these after the
input's own fields instead; `Write` declares them for type checkers and readers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

import strawberry

from service.schema.descriptions import (
    EXPECTED_MEASURE_VERSION,
    EXPECTED_PLAN_VERSION,
    IDEMPOTENCY_KEY,
    MUTATION_INPUT,
)

T = TypeVar("T")
W = TypeVar("W", bound=type)

# A mutation's one argument, `input`: `input: MutationInput[SubmitFigureInput]`.
MutationInput = Annotated[T, strawberry.argument(description=MUTATION_INPUT)]

MEASURE, PLAN = EXPECTED_MEASURE_VERSION, EXPECTED_PLAN_VERSION


class Write:
    """A write's input: its own fields, then these two (added by `write_input`)."""

    expected_version: int | None
    idempotency_key: str | None


def write_input(description: str, version: str = MEASURE) -> Callable[[W], W]:
    """An input type described by `description`, ending in `expectedVersion` (of a measure, or of a PLAN as
    `version` says) and `idempotencyKey`, both optional."""

    def make(cls: W) -> W:
        own = cls.__dict__.get("__annotations__", {})
        cls.__annotations__ = {**own, "expected_version": "int | None", "idempotency_key": "str | None"}
        cls.expected_version = strawberry.field(default=None, description=version)  # type: ignore[attr-defined]
        cls.idempotency_key = strawberry.field(default=None, description=IDEMPOTENCY_KEY)  # type: ignore[attr-defined]
        return strawberry.input(description=description)(cls)

    return make
