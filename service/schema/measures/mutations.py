"""Mutations of measures: define one in a plan's theme, redefine it; each returns the measure after the write.

`on_measure` is the shape every mutation of one measure shares (figures/mutations.py too).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from typing import Any
from uuid import UUID

import strawberry
from strawberry.types import Info

from domain import commands
from domain.definition import Definition, parse_definition
from domain.ledger import Written
from service import read_model
from service.auth.policy import Action
from service.schema.after_write import UNREAD, WritePayload, payload_after
from service.schema.descriptions import (
    BASIS,
    COMPONENTS,
    DIRECTION,
    MEASURE_DESCRIPTION,
    MEASURE_NUMBER,
    MEASURE_TITLE,
    TOLERANCE,
    UNIT,
)
from service.schema.enums import Basis, Direction
from service.schema.errors import parse_id
from service.schema.measures.types import Measure
from service.schema.write_inputs import MeasureWrite, MutationInput, PlanWrite, by_name, write_input


@strawberry.input(description="A component of a measure, e.g. one ward, or one offence type.")
class ComponentInput:
    key: str = strawberry.field(
        description="Its key, unique in the measure, e.g. `criminal-damage`; figures and baselines name it."
    )
    label: str = strawberry.field(description="Its label for people, e.g. `Criminal damage offences`.")


@write_input(
    description="A new measure in one of a plan's themes. Needs the editor role (a scoped token: for that "
    "theme or number)."
)
class DefineMeasureInput(PlanWrite):
    theme_code: str = strawberry.field(description="The code of one of the plan's themes, e.g. `5`.")
    number: str = strawberry.field(description=MEASURE_NUMBER)
    title: str = strawberry.field(description=MEASURE_TITLE)
    direction: Direction = strawberry.field(description=DIRECTION)
    basis: Basis = strawberry.field(description=BASIS)
    components: list[ComponentInput] = strawberry.field(description=COMPONENTS)
    description: str | None = strawberry.field(default=None, description=MEASURE_DESCRIPTION)
    tolerance: Decimal | None = strawberry.field(default=None, description=TOLERANCE)
    unit: str | None = strawberry.field(default=None, description=UNIT)


@write_input(
    description="A measure's whole new definition, with the reason; figures and baselines stay and are "
    "judged again. Needs the editor role."
)
class RedefineMeasureInput(MeasureWrite):
    title: str = strawberry.field(description=MEASURE_TITLE)
    direction: Direction = strawberry.field(description=DIRECTION)
    basis: Basis = strawberry.field(description=BASIS)
    components: list[ComponentInput] = strawberry.field(
        description="The measure's components, each with a unique key; a component with figures may not be left out."
    )
    reason: str = strawberry.field(description="Why it is redefined; required, kept in the audit trail.")
    description: str | None = strawberry.field(default=None, description=MEASURE_DESCRIPTION)
    tolerance: Decimal | None = strawberry.field(default=None, description=TOLERANCE)
    unit: str | None = strawberry.field(default=None, description=UNIT)


@strawberry.type(description="What a write to a measure returns: the measure as it is after the write.")
class MeasurePayload(WritePayload):
    @strawberry.field(description=f"The measure as it is after the write. {UNREAD}")
    def measure(self) -> Measure | None:
        return self.shown(Measure.from_row)


@strawberry.type
class MeasureMutations:
    @strawberry.mutation(description="Define a measure in one of a plan's themes.")
    async def define_measure(self, info: Info, input: MutationInput[DefineMeasureInput]) -> MeasurePayload:
        ctx, i = info.context, input
        req = ctx.request_for(i.expected_version, i.idempotency_key)
        plan_id = parse_id(i.plan_id, "planId")
        plan = await ctx.plan_target(plan_id)
        ctx.require(Action.EDIT, replace(plan, theme_code=i.theme_code, measure_number=i.number) if plan else None)
        definition = await ctx.parse(lambda: _definition(i))
        command = commands.DefineMeasure(plan_id, theme_code=i.theme_code, number=i.number, definition=definition)
        return await measure_payload(info, await ctx.write(command, req))

    @strawberry.mutation(description="Replace a measure's definition, saying why; the old one stays in history.")
    async def redefine_measure(self, info: Info, input: MutationInput[RedefineMeasureInput]) -> MeasurePayload:
        i = input
        return await on_measure(info, i, lambda mid: commands.RedefineMeasure(mid, _definition(i), reason=i.reason))


async def measure_payload(info: Info, w: Written) -> MeasurePayload:
    """The measure after a recorded write (schema/after_write.py)."""
    pool = info.context.services.pool

    async def read(position: int | None) -> Any:
        # One row, read once: straight from the pool rather than through a DataLoader's batch task.
        rows = await read_model.measures_by_id(pool, [w.id])
        return rows[0] if rows else None

    return await payload_after(info, w, MeasurePayload, "measure", read)


def _definition(i: DefineMeasureInput | RedefineMeasureInput) -> Definition:
    return by_name(parse_definition, i, components=[(c.key, c.label) for c in i.components])


async def on_measure(
    info: Info, i: MeasureWrite, command: Callable[[UUID], commands.MeasureCommand], action: Action = Action.EDIT
) -> MeasurePayload:
    """The shape of every measure mutation: the write (Context.write_to), then the measure after it."""
    return await measure_payload(info, await info.context.write_to("measure", i, command, action))
