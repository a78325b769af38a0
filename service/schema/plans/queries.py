"""Queries of plans: every plan a caller may see, and one plan, now or as it was."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

import strawberry
from strawberry.types import Info

from service import read_model
from service.auth.policy import partnership_filter
from service.cursors import ledger_event_cursor
from service.schema.as_of import as_of_argument, position_at, reading_action
from service.schema.cursors import parse_ledger_event_cursor
from service.schema.cycle.queries import publication_of
from service.schema.errors import error, parse_id
from service.schema.pages import DEFAULT_PAGE, MAX_PAGE, After, Connection, First, page_size
from service.schema.plans.types import Plan
from service.schema.targets import Target


@strawberry.type
class PlanQueries:
    @strawberry.field(
        description="Every plan you may see (the viewer role), or one partnership's, all at once: "
        "`plansConnection` pages them."
    )
    async def plans(
        self,
        info: Info,
        partnership: Annotated[
            str | None,
            strawberry.argument(
                description="Only this partnership's plans (ignoring case); null: every plan you may see. A principal "
                "of one partnership sees its own only; asking for another is FORBIDDEN."
            ),
        ] = None,
    ) -> list[Plan]:
        # A principal of one partnership sees its own plans only, asked or not.
        visible = partnership_filter(info.context.principal, partnership)
        rows = await read_model.plans(info.context.reads, visible)
        return [Plan.from_row(r) for r in rows]

    @strawberry.field(
        description="`plans` in keyset pages of `first` plans (default "
        f"{DEFAULT_PAGE}, at most {MAX_PAGE}) in the order they were created, after the cursor `after` "
        "(`pageInfo.endCursor`); a plan created meanwhile comes after every older one, so no page repeats or "
        "skips a plan. Who sees what is as for `plans`."
    )
    async def plans_connection(
        self,
        info: Info,
        partnership: Annotated[
            str | None,
            strawberry.argument(description="Only this partnership's plans (ignoring case), as for `plans`."),
        ] = None,
        first: First = None,
        after: After = None,
    ) -> Connection[Plan]:
        visible = partnership_filter(info.context.principal, partnership)
        size = page_size(first)
        since = parse_ledger_event_cursor(after)[0] if after is not None else 0
        rows = await read_model.plans_created_after(info.context.reads, visible, since, size + 1)
        cursors = {r["id"]: ledger_event_cursor((r["created_position"], "")) for r in rows}
        plans = [Plan.from_row(r) for r in rows[:size]]
        return Connection.of(plans, lambda p: cursors[UUID(p.id)], after, len(rows) > size)

    @strawberry.field(
        description="One plan, or null if there is none with this id. With asOf, every field is what the "
        "ledger showed at that moment; null if the plan did not exist yet. With publication (one of this "
        "plan's), every field is what that publication showed, at the position it fixes. Needs the viewer role "
        "in the plan's partnership; asOf, the auditor role."
    )
    async def plan(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The plan's `id`; not an id: VALIDATION.")],
        as_of: Annotated[datetime | None, as_of_argument("plan")] = None,
        publication: Annotated[
            strawberry.ID | None,
            strawberry.argument(
                description="One of this plan's publications' `id`: the plan as it showed it. Not with asOf."
            ),
        ] = None,
    ) -> Plan | None:
        plan_id = parse_id(id, "id")
        if publication is not None:
            return await _published(info, plan_id, publication, as_of)
        at = await position_at(info, as_of)
        if at == 0:
            return None
        row = await info.context.loaders.at(at).plan.load(plan_id)
        info.context.require(reading_action(as_of), Target(row["partnership"]) if row else None)
        return Plan.from_row(row, at) if row else None


async def _published(info: Info, plan_id: UUID, publication: strawberry.ID, as_of: datetime | None) -> Plan:
    """The plan as one of its publications showed it: read at the publication's position."""
    if as_of is not None:
        raise error("VALIDATION", "asOf: give asOf or publication, not both", "asOf")
    row = await publication_of(info, publication, "publication")
    if row is None or row["plan_id"] != plan_id:
        raise error("NOT_FOUND", f"publication: plan {plan_id} has no publication {publication}", "publication")
    at: int = row["position"]
    plan = await info.context.loaders.at(at).plan.load(plan_id)
    assert plan is not None  # a plan is recorded before any of its publications
    return Plan.from_row(plan, at)
