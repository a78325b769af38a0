"""Mutations of plans: start one, add a theme to it; each returns the plan as it is after the write."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from uuid import UUID

import strawberry
from strawberry.types import Info

from domain import commands
from domain.ledger import Written
from service.auth.policy import Action
from service.schema.after_write import UNREAD, WritePayload, payload_after
from service.schema.descriptions import DISCREPANCY_THRESHOLD, IDEMPOTENCY_KEY, PLAN_TITLE, PLAN_YEAR
from service.schema.plans.types import Plan
from service.schema.targets import Target
from service.schema.write_inputs import MutationInput, PlanWrite, by_name, write_input


@strawberry.input(
    description="A new plan: one partnership's reporting year. Needs the editor role in that partnership."
)
class CreatePlanInput:
    partnership: str = strawberry.field(
        description="The partnership, e.g. `Safer Stockton Partnership` (compared ignoring case); with the "
        "title it must be new."
    )
    title: str = strawberry.field(description=f"{PLAN_TITLE}; unique within the partnership.")
    year: str = strawberry.field(description=PLAN_YEAR)
    period_start: date = strawberry.field(
        description="The first day of the plan's period, e.g. `2012-04-01`: Q1 starts here."
    )
    period_end: date = strawberry.field(
        description="The last day of the plan's period, e.g. `2013-03-31`, after periodStart."
    )
    discrepancy_threshold: Decimal | None = strawberry.field(
        default=None,
        description=f"{DISCREPANCY_THRESHOLD}; greater than zero. Null: 1.0.",
    )
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY)


@write_input(description="A new theme of a plan. Needs the editor role.")
class AddThemeInput(PlanWrite):
    code: str = strawberry.field(
        description="The theme's code, unique in the plan, e.g. `5`; measures name it as `themeCode`."
    )
    title: str = strawberry.field(description="The theme's title, e.g. `Criminal damage targets`.")


@strawberry.type(description="What a plan-level write returns: the plan as it is after the write.")
class PlanPayload(WritePayload):
    @strawberry.field(description=f"The plan as it is after the write. {UNREAD}")
    def plan(self) -> Plan | None:
        return self.shown(Plan.from_row)


@strawberry.type
class PlanMutations:
    @strawberry.mutation(description="Start a partnership's plan for a reporting year.")
    async def create_plan(self, info: Info, input: MutationInput[CreatePlanInput]) -> PlanPayload:
        ctx, i = info.context, input
        req = ctx.request_for(None, i.idempotency_key)
        ctx.require(Action.EDIT, Target(i.partnership))
        command = by_name(commands.CreatePlan, i)
        return await plan_payload(info, await ctx.write(command, req))

    @strawberry.mutation(description="Add a numbered theme to a plan.")
    async def add_theme(self, info: Info, input: MutationInput[AddThemeInput]) -> PlanPayload:
        i = input
        return await on_plan(info, i, lambda pid: commands.AddTheme(pid, code=i.code, title=i.title))


async def plan_payload(info: Info, w: Written) -> PlanPayload:
    """The plan after a recorded write (schema/after_write.py)."""
    return await payload_after(info, w, PlanPayload, "plan", lambda _: info.context.loaders.at(None).plan.load(w.id))


async def on_plan(
    info: Info, i: PlanWrite, command: Callable[[UUID], commands.PlanCommand], action: Action = Action.EDIT
) -> PlanPayload:
    """The shape of every plan mutation: the write (Context.write_to), then the plan after it."""
    return await plan_payload(info, await info.context.write_to("plan", i, command, action))
