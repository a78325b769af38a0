"""Mutations of the reporting cycle: collections and publications of a plan, owners and returns of a measure.

Each records one event and returns the plan or measure as it is after it. Opening collections,
approving, sending back and reopening returns and publishing need the approver role; assigning an owner,
the editor role; a return is given in by the measure's owner (with the submitter role) or by an editor.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import strawberry
from strawberry.types import Info

from domain import commands
from domain.ledger import Written
from service import cycle_reads
from service.auth.policy import Action, can, may_submit_return
from service.auth.principal import Principal
from service.schema.after_write import UNREAD, WritePayload, payload_after
from service.schema.context import in_command_thread
from service.schema.cycle.types import Publication
from service.schema.enums import Quarter
from service.schema.errors import error, parse_id
from service.schema.measures.mutations import MeasurePayload, measure_payload, on_measure
from service.schema.plans.mutations import PlanPayload, on_plan
from service.schema.plans.types import Plan
from service.schema.targets import Target
from service.schema.write_inputs import MeasureWrite, MutationInput, PlanWrite, write_input


@write_input(description="Asks for a quarter's returns by a due date. Needs the approver role.")
class OpenCollectionInput(PlanWrite):
    quarter: Quarter = strawberry.field(description="The quarter whose returns are asked for.")
    due_on: date = strawberry.field(
        description="The date the returns are due, after the quarter ends, e.g. `2012-07-31`."
    )


@write_input(description="A new due date for a quarter's returns, with the reason. Needs the approver role.")
class ChangeDueDateInput(PlanWrite):
    quarter: Quarter = strawberry.field(description="The quarter whose collection it is.")
    due_on: date = strawberry.field(description="The new due date, after the quarter ends.")
    reason: str = strawberry.field(description="Why it moves; required.")


@write_input(description="A quarter's report as presented to the board. Needs the approver role.")
class PublishQuarterInput(PlanWrite):
    quarter: Quarter = strawberry.field(description="The quarter published.")
    title: str = strawberry.field(
        description="The publication's title, e.g. `Safer Stockton Partnership board, 27 November 2012`."
    )
    presented_on: date = strawberry.field(description="The date it was presented.")
    force: bool = strawberry.field(default=False, description="Publish although returns are not all approved.")
    reason: str | None = strawberry.field(default=None, description="Why, when forced.")


@write_input(description="Who reports a measure, and for which partner agency. Needs the editor role.")
class AssignOwnerInput(MeasureWrite):
    principal: str = strawberry.field(
        description="The owner's principal name, as their token or sign-in gives it, e.g. `bob@police.example`."
    )
    agency: str = strawberry.field(description="The partner agency they report for, e.g. `Cleveland Police`.")
    reason: str | None = strawberry.field(default=None, description="Why, when the measure had an owner already.")


@write_input(
    description="A measure's return for a quarter, to submit (its owner, or the submitter role for them) or"
    " approve (the approver role; not whoever submitted it)."
)
class ReturnInput(MeasureWrite):
    quarter: Quarter = strawberry.field(description="The quarter of the return.")


@write_input(
    description="A measure's return for a quarter to send back or reopen, with the reason. Needs the approver role."
)
class ReturnWithReasonInput(ReturnInput):
    reason: str = strawberry.field(description="What to change (sending back), or why it is reopened; required.")


@strawberry.type(description="What publishQuarter returns: the publication and the plan after it.")
class PublicationPayload(WritePayload):
    position: int | None = strawberry.field(description="The publishing event's position in the ledger.")

    @strawberry.field(description=f"The publication the write made. {UNREAD}")
    def publication(self) -> Publication | None:
        return self.shown(lambda rows: Publication.from_row(rows[0]))  # (the publication's row, the plan's row)

    @strawberry.field(description=f"The plan as it is now, its new publication among its publications. {UNREAD}")
    def plan(self) -> Plan | None:
        return self.shown(lambda rows: Plan.from_row(rows[1]))


@strawberry.type
class CycleMutations:
    @strawberry.mutation(description="Ask for a quarter's returns by a due date, after the quarter ends.")
    async def open_collection(self, info: Info, input: MutationInput[OpenCollectionInput]) -> PlanPayload:
        i = input
        return await on_plan(info, i, lambda pid: commands.OpenCollection(pid, i.quarter, i.due_on), Action.APPROVE)

    @strawberry.mutation(description="Move a quarter's due date, saying why.")
    async def change_due_date(self, info: Info, input: MutationInput[ChangeDueDateInput]) -> PlanPayload:
        i = input
        return await on_plan(
            info, i, lambda pid: commands.ChangeDueDate(pid, i.quarter, i.due_on, reason=i.reason), Action.APPROVE
        )

    @strawberry.mutation(
        description="Record a quarter's report as presented, fixing the ledger position it shows. Refused while "
        "returns are not all approved, unless forced with a reason; refused when nothing in the plan changed "
        "since the quarter was last published."
    )
    async def publish_quarter(self, info: Info, input: MutationInput[PublishQuarterInput]) -> PublicationPayload:
        ctx, i = info.context, input
        req = ctx.request_for(i.expected_version, i.idempotency_key)
        plan_id = parse_id(i.plan_id, "planId")
        ctx.require(Action.APPROVE, await ctx.plan_target(plan_id))
        # Everything recorded before this request, projected: the position the facts are gathered at.
        ledger, services = ctx.services.ledger, ctx.services
        recorded = await in_command_thread(lambda: ledger.recorder.max_notification_id() or 0)
        await services.watcher.wait_for(recorded, services.settings.write_wait_seconds)
        facts = await cycle_reads.publication_facts(services.pool, plan_id, i.quarter)
        if facts is None:
            raise error(
                "CONFLICT",
                "planId: the read model is being rebuilt, so what the quarter would show cannot be read yet;"
                " publish once the rebuild has finished",
                "planId",
            )
        command = commands.PublishQuarter(
            plan_id, i.quarter, i.title, i.presented_on, facts, force=i.force, reason=i.reason
        )
        written = await ctx.write(command, req)
        return await _publication_payload(info, written)

    @strawberry.mutation(description="Name who reports a measure, and for which partner agency.")
    async def assign_owner(self, info: Info, input: MutationInput[AssignOwnerInput]) -> MeasurePayload:
        i = input
        return await on_measure(
            info, i, lambda mid: commands.AssignOwner(mid, i.principal, i.agency, reason=i.reason), Action.EDIT
        )

    @strawberry.mutation(
        description="Give a measure's quarter in for approval, as it stands: by its owner, or an editor for them. "
        "The quarter is then locked until an approver sends it back."
    )
    async def submit_return(self, info: Info, input: MutationInput[ReturnInput]) -> MeasurePayload:
        ctx, i = info.context, input
        req = ctx.request_for(i.expected_version, i.idempotency_key)
        measure_id = parse_id(i.measure_id, "measureId")
        target = await ctx.measure_target(measure_id)
        if not _edits(ctx.principal, target):
            principal = ctx.require(Action.SUBMIT, target)
            owner = await ctx.loaders.at(None).owner.load(measure_id)
            if owner is not None and not may_submit_return(principal, owner["principal"]):
                raise error(
                    "FORBIDDEN",
                    f"the return of {target.measure_number if target else measure_id} is given in by its owner "
                    f"{owner['principal']!r} or an editor; {principal.describe()} is neither",
                    "measureId",
                )
        command = commands.SubmitReturn(measure_id, i.quarter)
        return await measure_payload(info, await ctx.write(command, req))

    @strawberry.mutation(description="Sign a submitted return off; whoever submitted it may not.")
    async def approve_return(self, info: Info, input: MutationInput[ReturnInput]) -> MeasurePayload:
        i = input
        return await on_measure(info, i, lambda mid: commands.ApproveReturn(mid, i.quarter), Action.APPROVE)

    @strawberry.mutation(description="Return a submitted return to its owner for changes, saying what to change.")
    async def send_back_return(self, info: Info, input: MutationInput[ReturnWithReasonInput]) -> MeasurePayload:
        i = input
        return await on_measure(
            info, i, lambda mid: commands.SendBackReturn(mid, i.quarter, reason=i.reason), Action.APPROVE
        )

    @strawberry.mutation(description="Unlock an approved quarter for a correction, saying why.")
    async def reopen_return(self, info: Info, input: MutationInput[ReturnWithReasonInput]) -> MeasurePayload:
        i = input
        return await on_measure(
            info, i, lambda mid: commands.ReopenReturn(mid, i.quarter, reason=i.reason), Action.APPROVE
        )


def _edits(principal: Principal | None, target: Target | None) -> bool:
    """Whether the caller may edit the measure `target` names (an editor gives returns in for owners)."""
    return target is not None and can(principal, Action.EDIT, **target.where())


async def _publication_payload(info: Info, w: Written) -> PublicationPayload:
    """The publication the write made (or, on a retry, had made), and its plan now; never an error without the
    write's position (schema/after_write.py)."""
    loaders = info.context.loaders.at(None)

    async def read(position: int | None) -> tuple[Any, Any] | None:
        plan, rows = await loaders.plan.load(w.id), await loaders.publications.load(w.id)
        # A publication's row begins at its event's position.
        published = next((r for r in rows if r["valid_from"] == position), None)
        return None if plan is None or published is None else (published, plan)

    return await payload_after(info, w, PublicationPayload, "publication", read)
