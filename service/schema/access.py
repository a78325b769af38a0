"""Who may read a feed or a trail that can span plans: the checks shared by queries, subscriptions and downloads."""

from __future__ import annotations

from uuid import UUID

import strawberry

from service.auth.policy import Action
from service.auth.principal import Principal
from service.fanout import Filters
from service.schema.context import Context
from service.schema.errors import error, parse_id


async def spanning(ctx: Context, action: Action, plan_id: UUID | None, measure_id: UUID | None) -> Principal:
    """The caller, if it may read `action` for this plan or measure, or across the plans it can see.

    Returns the principal; its `partnership`, if any, must then limit what is read
    when neither a plan nor a measure was named.
    """
    if measure_id is not None:
        return ctx.require(action, await ctx.measure_target(measure_id))
    if plan_id is not None:
        return ctx.require(action, await ctx.plan_target(plan_id))
    return ctx.require(action, None)


def one_plan_for(principal: Principal, plan_id: UUID | None, measure_id: UUID | None, what: str) -> None:
    """Feeds filter by plan or measure only: a principal of one partnership must name one."""
    if principal.partnership is not None and plan_id is None and measure_id is None:
        raise error(
            "FORBIDDEN",
            f"{what}: {principal.describe()} sees one partnership's plans only; name a planId or measureId",
            "planId",
        )


async def feed_filters(ctx: Context, action: Action, what: str, **ids: strawberry.ID | None) -> Filters:
    """Column filters of a feed (`statusChanged`, `statusChanges`, `ledgerEvents`) from its optional id
    arguments (`planId=...`), each checked to be an id, once the caller may read what they select."""
    filters: dict[str, UUID] = {}
    for name, raw in ids.items():
        if raw is not None:
            column = "".join(f"_{c.lower()}" if c.isupper() else c for c in name)
            filters[column] = parse_id(raw, name)
    principal = await spanning(ctx, action, filters.get("plan_id"), filters.get("measure_id"))
    one_plan_for(principal, filters.get("plan_id"), filters.get("measure_id"), what)
    return filters
