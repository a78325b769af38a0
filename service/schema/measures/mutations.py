"""Mutations of measures: define one in a plan's theme, redefine it; each returns the measure after the write.

`on_measure` is the shape every mutation of one measure shares (figures/mutations.py too).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

import strawberry
from strawberry.types import Info

from domain import commands
from domain.definition import Definition, parse_definition
from domain.ledger import Written
from service import read_model
from service.auth.policy import Action
from service.schema.after_write import UNREAD, WritePayload, position_after, read_after, shown
from service.schema.descriptions import (
    BASIS,
    COMPONENTS,
    DIRECTION,
    EXPECTED_MEASURE_VERSION,
    EXPECTED_PLAN_VERSION,
    IDEMPOTENCY_KEY,
    MEASURE_DESCRIPTION,
    MEASURE_ID,
    MEASURE_NUMBER,
    MEASURE_TITLE,
    MUTATION_INPUT,
    PLAN_ID,
    TOLERANCE,
    UNIT,
)
from service.schema.enums import Basis, Direction
from service.schema.errors import parse_id
from service.schema.measures.types import Measure


@strawberry.input(description="A component of a measure, e.g. one ward, or one offence type.")
class ComponentInput:
    key: str = strawberry.field(
        description="Its key, unique in the measure, e.g. `criminal-damage`; figures and baselines name it."
    )
    label: str = strawberry.field(description="Its label for people, e.g. `Criminal damage offences`.")


@strawberry.input(
    description="A new measure in one of a plan's themes. Needs the editor role (a scoped token: for that "
    "theme or number)."
)
class DefineMeasureInput:
    plan_id: strawberry.ID = strawberry.field(description=PLAN_ID)
    theme_code: str = strawberry.field(description="The code of one of the plan's themes, e.g. `5`.")
    number: str = strawberry.field(description=MEASURE_NUMBER)
    title: str = strawberry.field(description=MEASURE_TITLE)
    direction: Direction = strawberry.field(description=DIRECTION)
    basis: Basis = strawberry.field(description=BASIS)
    components: list[ComponentInput] = strawberry.field(description=COMPONENTS)
    description: str | None = strawberry.field(default=None, description=MEASURE_DESCRIPTION)
    tolerance: Decimal | None = strawberry.field(default=None, description=TOLERANCE)
    unit: str | None = strawberry.field(default=None, description=UNIT)
    expected_version: int | None = strawberry.field(default=None, description=EXPECTED_PLAN_VERSION)
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY)


@strawberry.input(
    description="A measure's whole new definition, with the reason; figures and baselines stay and are "
    "judged again. Needs the editor role."
)
class RedefineMeasureInput:
    measure_id: strawberry.ID = strawberry.field(description=MEASURE_ID)
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
    expected_version: int | None = strawberry.field(default=None, description=EXPECTED_MEASURE_VERSION)
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY)


@strawberry.type(description="What a write to a measure returns: the measure as it is after the write.")
class MeasurePayload(WritePayload):
    @strawberry.field(description=f"The measure as it is after the write. {UNREAD}")
    def measure(self) -> Measure | None:
        row = shown(self.row, self.unread)
        return None if row is None else Measure.from_row(row)


@strawberry.type
class MeasureMutations:
    @strawberry.mutation(description="Define a measure in one of a plan's themes.")
    async def define_measure(
        self, info: Info, input: Annotated[DefineMeasureInput, strawberry.argument(description=MUTATION_INPUT)]
    ) -> MeasurePayload:
        ctx, i = info.context, input
        req = ctx.request_for(i.expected_version, i.idempotency_key)
        plan_id = parse_id(i.plan_id, "planId")
        plan = await ctx.plan_target(plan_id)
        ctx.require(Action.EDIT, replace(plan, theme_code=i.theme_code, measure_number=i.number) if plan else None)
        definition = await ctx.parse(lambda: _definition(i))
        command = commands.DefineMeasure(plan_id, theme_code=i.theme_code, number=i.number, definition=definition)
        return await measure_payload(info, await ctx.write(command, req))

    @strawberry.mutation(description="Replace a measure's definition, saying why; the old one stays in history.")
    async def redefine_measure(
        self, info: Info, input: Annotated[RedefineMeasureInput, strawberry.argument(description=MUTATION_INPUT)]
    ) -> MeasurePayload:
        i = input
        return await on_measure(info, i, lambda mid: commands.RedefineMeasure(mid, _definition(i), reason=i.reason))


async def measure_payload(info: Info, w: Written) -> MeasurePayload:
    """The measure after a recorded write; never an error without the write's position (schema/after_write.py)."""
    pool = info.context.services.pool
    position = await position_after(lambda: info.context.position_of(w))

    async def read() -> Any:
        # One row, read once: straight from the pool rather than through a DataLoader's batch task.
        rows = await read_model.measures_by_id(pool, [w.id])
        return rows[0] if rows else None

    row, unread = await read_after("measure", position, w.version, read)
    return MeasurePayload(row=row, unread=unread, position=position, version=w.version, replayed=w.replayed)


def _definition(i: DefineMeasureInput | RedefineMeasureInput) -> Definition:
    return parse_definition(
        title=i.title,
        description=i.description,
        direction=i.direction,
        basis=i.basis,
        tolerance=i.tolerance,
        unit=i.unit,
        components=[(c.key, c.label) for c in i.components],
    )


async def on_measure(
    info: Info, i: Any, command: Callable[[UUID], commands.MeasureCommand], action: Action = Action.EDIT
) -> MeasurePayload:
    """The shape of every measure mutation: who, which measure, may they, the command, the state after it."""
    ctx = info.context
    req = ctx.request_for(i.expected_version, i.idempotency_key)
    measure_id = parse_id(i.measure_id, "measureId")
    ctx.require(action, await ctx.measure_target(measure_id))
    return await measure_payload(info, await ctx.write(await ctx.parse(lambda: command(measure_id)), req))
