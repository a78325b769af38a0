"""The contract's enums, straight from the domain's."""

from __future__ import annotations

import enum
from typing import Any, TypeVar

import strawberry

from domain import returns, values

Quarter = strawberry.enum(values.Quarter, description="A quarter of the plan's financial year.")
Direction = strawberry.enum(values.Direction, description="Which way a measure aims.")
Basis = strawberry.enum(values.Basis, description="How a quarter's figure is compared with the baseline.")
Status = strawberry.enum(values.Status, description="The verdict for a measure or component in a quarter.")
ReturnState = strawberry.enum(returns.ReturnState, description="Where a measure's return for a quarter stands.")

E = TypeVar("E", bound=enum.Enum)
# Enum(value) looks a member up the slow way, and a dashboard converts several hundred columns.
_MEMBERS: dict[type[enum.Enum], dict[Any, enum.Enum]] = {}


def member(kind: type[E], value: Any) -> E:
    """The member of `kind` whose value a read-model column holds."""
    members = _MEMBERS.get(kind)
    if members is None:
        members = _MEMBERS[kind] = {m.value: m for m in kind}
    found = members.get(value)
    return found if found is not None else kind(value)  # type: ignore[return-value]
