"""Mutations of plans: start one, add a theme to it; each returns the plan as it is after the write."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import strawberry
from strawberry.types import Info

from domain import commands
from domain.ledger import Written
from service.auth.policy import Action
from service.schema.after_write import UNREAD, WritePayload, position_after, read_after, shown
from service.schema.errors import parse_id
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
class PlanPayload(WritePayload):
    @strawberry.field(description=f"The plan as it is after the write. {UNREAD}")
    def plan(self) -> Plan | None:
        row = shown(self.row, self.unread)
        return None if row is None else Plan.from_row(row)


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
    """The plan after a recorded write; never an error without the write's position (schema/after_write.py)."""
    position = await position_after(lambda: info.context.position_of(w))
    row, unread = await read_after("plan", position, w.version, lambda: info.context.loaders.at(None).plan.load(w.id))
    return PlanPayload(row=row, unread=unread, position=position, version=w.version, replayed=w.replayed)
