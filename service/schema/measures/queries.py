"""Queries of measures: one measure, now or as it was."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.types import Info

from service.schema.as_of import as_of_argument, position_at, reading_action
from service.schema.errors import parse_id
from service.schema.measures.types import Measure
from service.schema.targets import Target


@strawberry.type
class MeasureQueries:
    @strawberry.field(
        description="One measure, or null if there is none with this id. With asOf, every field is what the "
        "ledger showed at that moment; null if the measure did not exist yet. Needs the viewer role in its "
        "plan's partnership; asOf, the auditor role."
    )
    async def measure(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The measure's `id`; not an id: VALIDATION.")],
        as_of: Annotated[datetime | None, as_of_argument("measure")] = None,
    ) -> Measure | None:
        measure_id = parse_id(id, "id")
        at = await position_at(info, as_of)
        if at == 0:
            return None
        loaders = info.context.loaders.at(at)
        row = await loaders.measure.load(measure_id)
        plan = await loaders.plan.load(row["plan_id"]) if row else None
        info.context.require(reading_action(as_of), Target(plan["partnership"]) if plan else None)
        return Measure.from_row(row, at) if row else None
