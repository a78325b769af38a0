"""Mutations of plans: start one, add a theme to it; each returns the plan as it is after the write."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import strawberry
from strawberry.types import Info

from domain import commands
from domain.ledger import Written
from service.auth.policy import Action
from service.schema.errors import error, parse_id
from service.schema.plans.types import Plan
from service.schema.targets import Target


@strawberry.input
class CreatePlanInput:
    partnership: str
    title: str
    year: str
    period_start: date
    period_end: date
    discrepancy_threshold: Decimal | None = None
    idempotency_key: str | None = None


@strawberry.input
class AddThemeInput:
    plan_id: strawberry.ID
    code: str
    title: str
    expected_version: int | None = None
    idempotency_key: str | None = None


@strawberry.type
class PlanPayload:
    plan: Plan
    position: int | None = strawberry.field(description="The event's position in the ledger.")
    version: int
    replayed: bool = strawberry.field(description="True when an idempotency key returned an earlier result.")


@strawberry.type
class PlanMutations:
    @strawberry.mutation(description="Start a partnership's plan for a reporting year.")
    async def create_plan(self, info: Info, input: CreatePlanInput) -> PlanPayload:
        ctx, i = info.context, input
        req = ctx.request_for(None, i.idempotency_key)
        ctx.require(Action.EDIT, Target(i.partnership))
        command = commands.CreatePlan(
            partnership=i.partnership,
            title=i.title,
            year=i.year,
            period_start=i.period_start,
            period_end=i.period_end,
            discrepancy_threshold=i.discrepancy_threshold,
        )
        return await plan_payload(info, await ctx.write(command, req))

    @strawberry.mutation(description="Add a numbered theme to a plan.")
    async def add_theme(self, info: Info, input: AddThemeInput) -> PlanPayload:
        ctx, i = info.context, input
        req = ctx.request_for(i.expected_version, i.idempotency_key)
        plan_id = parse_id(i.plan_id, "planId")
        ctx.require(Action.EDIT, await ctx.plan_target(plan_id))
        return await plan_payload(info, await ctx.write(commands.AddTheme(plan_id, code=i.code, title=i.title), req))


async def plan_payload(info: Info, w: Written) -> PlanPayload:
    row = await info.context.loaders.at(None).plan.load(w.id)
    if row is None:
        raise error("INTERNAL", "the read model has not caught up with the write; read the plan again shortly")
    return PlanPayload(
        plan=Plan.from_row(row), position=await info.context.position_of(w), version=w.version, replayed=w.replayed
    )
