"""Mutations of webhooks: make one (its secret shown once), pause, resume, replay, rotate its secret, delete.

Each is its partnership's admin's: a webhook only ever carries its own partnership's facts, so it is
made in the caller's partnership, and a plan or measure filter must be of that partnership too.
"""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import strawberry
from graphql import GraphQLError
from strawberry.types import Info

from service.auth.policy import Action
from service.schema.cursors import parse_ledger_event_cursor, parse_status_change_cursor
from service.schema.descriptions import WEBHOOK_ID
from service.schema.errors import error, parse_id
from service.schema.targets import Target
from service.schema.webhooks.access import visible
from service.schema.webhooks.types import Webhook, WebhookEventKind
from service.schema.write_inputs import MutationInput
from service.webhooks import registry
from service.webhooks.kinds import EventKind
from service.webhooks.outbox import Key
from service.webhooks.safety import Refused, check_url

MAX_DESCRIPTION = 500
MAX_WEBHOOKS = 100  # per partnership
DEFAULT_OVERLAP_HOURS = 24


@strawberry.input(description="A webhook: where to post which kinds of the ledger's facts. Needs the admin role.")
class CreateWebhookInput:
    url: str = strawberry.field(description="https://, or http:// for a host the operator allows.")
    kinds: list[WebhookEventKind] = strawberry.field(description="The kinds of message to send; at least one.")  # type: ignore[valid-type]
    plan_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only this plan's facts; null: the partnership's every plan."
    )
    measure_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only this measure's facts; null: not limited to one measure."
    )
    description: str | None = strawberry.field(
        default=None, description="A note for the admins, e.g. what receives it; null for none."
    )
    partnership: str | None = strawberry.field(
        default=None, description="An operator's choice of partnership (null: every one); others' is their own."
    )
    after: str | None = strawberry.field(
        default=None,
        description="Start after this cursor (of `statusChanges`, `auditTrail` or a message); null: from now.",
    )


@strawberry.input(description="A webhook to act on. Needs the admin role.")
class WebhookInput:
    id: strawberry.ID = strawberry.field(description=WEBHOOK_ID)


@strawberry.input(description="A webhook to pause. Needs the admin role.")
class PauseWebhookInput:
    id: strawberry.ID = strawberry.field(description=WEBHOOK_ID)
    reason: str | None = strawberry.field(
        default=None, description="Why, shown as `pausedReason`; null: who paused it."
    )


@strawberry.input(description="A webhook to send messages again. Needs the admin role.")
class ReplayWebhookInput:
    id: strawberry.ID = strawberry.field(description=WEBHOOK_ID)
    after: str | None = strawberry.field(
        default=None, description="Send every message after this cursor again; null: from the ledger's start."
    )


@strawberry.input(description="A webhook whose signing secret is replaced. Needs the admin role.")
class RotateWebhookSecretInput:
    id: strawberry.ID = strawberry.field(description=WEBHOOK_ID)
    overlap_hours: int = strawberry.field(
        default=DEFAULT_OVERLAP_HOURS, description="How long the old secret signs beside the new one (0 to 720)."
    )


@strawberry.type(description="What a write to a webhook returns: the webhook after it.")
class WebhookPayload:
    webhook: Webhook = strawberry.field(description="The webhook after the write.")


@strawberry.type(description="A webhook with its new signing secret, which is shown this once.")
class WebhookSecretPayload(WebhookPayload):
    secret: str = strawberry.field(description="The signing secret (`whsec_…`): shown this once, never again.")


@strawberry.type(description="What deleteWebhook returns.")
class DeleteWebhookPayload:
    id: strawberry.ID = strawberry.field(description="The deleted webhook's `id`.")


def parse_cursor(raw: str, field: str) -> Key:
    """A key from any cursor a message carries: a status change's, or an audit entry's."""
    try:
        return parse_status_change_cursor(raw, field)
    except GraphQLError:
        return parse_ledger_event_cursor(raw, field)


@strawberry.type
class WebhookMutations:
    @strawberry.mutation(description="Post the chosen kinds of the ledger's facts to a URL; its secret is shown once.")
    async def create_webhook(self, info: Info, input: MutationInput[CreateWebhookInput]) -> WebhookSecretPayload:
        ctx, i = info.context, input
        principal = ctx.require(Action.ADMIN, Target(i.partnership) if i.partnership else None)
        plan_id = parse_id(i.plan_id, "planId") if i.plan_id is not None else None
        measure_id = parse_id(i.measure_id, "measureId") if i.measure_id is not None else None
        partnership = await _partnership(info, i.partnership or principal.partnership, plan_id, measure_id)
        try:
            url = check_url(i.url, ctx.services.settings.webhooks.allowed)
        except Refused as e:
            raise error("VALIDATION", f"url: {i.url[:200]!r} {e}", "url") from None
        if not i.kinds:
            raise error("VALIDATION", "kinds: choose at least one kind of message", "kinds")
        if i.description is not None and len(i.description) > MAX_DESCRIPTION:
            raise error("VALIDATION", f"description: at most {MAX_DESCRIPTION} characters", "description")
        pool = ctx.services.pool
        if partnership is not None and len(await registry.listed(pool, partnership)) >= MAX_WEBHOOKS:
            raise error("LIMIT_EXCEEDED", f"at most {MAX_WEBHOOKS} webhooks a partnership; delete one first")
        new = registry.NewWebhook(
            url=url,
            kinds=frozenset(EventKind(k.value) for k in i.kinds),
            partnership=partnership,
            created_by=principal.name,
            plan_id=plan_id,
            measure_id=measure_id,
            description=i.description,
        )
        start = parse_cursor(i.after, "after") if i.after is not None else await registry.outbox_end(pool)
        row, secret = await registry.create(pool, new, start)
        return WebhookSecretPayload(webhook=Webhook.from_row(row), secret=secret)

    @strawberry.mutation(description="Stop delivering; nothing is skipped: a resume sends everything since.")
    async def pause_webhook(self, info: Info, input: MutationInput[PauseWebhookInput]) -> WebhookPayload:
        webhook_id = await _mine(info, input.id)
        reason = f"paused by {info.context.actor()}" + (f": {input.reason[:MAX_DESCRIPTION]}" if input.reason else "")
        return _payload(await registry.pause(info.context.services.pool, webhook_id, reason))

    @strawberry.mutation(description="Deliver again at once, from where it stopped, however it was paused.")
    async def resume_webhook(self, info: Info, input: MutationInput[WebhookInput]) -> WebhookPayload:
        webhook_id = await _mine(info, input.id)
        return _payload(await registry.resume(info.context.services.pool, webhook_id))

    @strawberry.mutation(description="Send every message after a cursor again, under new webhook-ids, then carry on.")
    async def replay_webhook(self, info: Info, input: MutationInput[ReplayWebhookInput]) -> WebhookPayload:
        webhook_id = await _mine(info, input.id)
        after = parse_cursor(input.after, "after") if input.after is not None else (0, "")
        return _payload(await registry.replay(info.context.services.pool, webhook_id, after))

    @strawberry.mutation(description="A new signing secret, shown once; the old one signs beside it for the overlap.")
    async def rotate_webhook_secret(
        self, info: Info, input: MutationInput[RotateWebhookSecretInput]
    ) -> WebhookSecretPayload:
        webhook_id = await _mine(info, input.id)
        if not 0 <= input.overlap_hours <= 720:
            raise error("VALIDATION", "overlapHours: from 0 to 720 hours", "overlapHours")
        rotated = await registry.rotate(info.context.services.pool, webhook_id, timedelta(hours=input.overlap_hours))
        if rotated is None:
            raise _gone(webhook_id)
        row, secret = rotated
        return WebhookSecretPayload(webhook=Webhook.from_row(row), secret=secret)

    @strawberry.mutation(description="Delete a webhook and its delivery log.")
    async def delete_webhook(self, info: Info, input: MutationInput[WebhookInput]) -> DeleteWebhookPayload:
        webhook_id = await _mine(info, input.id)
        if not await registry.delete(info.context.services.pool, webhook_id):
            raise _gone(webhook_id)
        return DeleteWebhookPayload(id=strawberry.ID(str(webhook_id)))


async def _partnership(info: Info, chosen: str | None, plan_id: UUID | None, measure_id: UUID | None) -> str | None:
    """The partnership a new webhook's facts come from: its filter's, which the caller must administer."""
    target = await _target(info, plan_id, measure_id)
    if target is None:
        return chosen
    info.context.require(Action.ADMIN, target)
    if chosen is not None and chosen.casefold() != target.partnership.casefold():
        field = "measureId" if measure_id is not None else "planId"
        raise error("VALIDATION", f"{field}: it is of partnership {target.partnership!r}, not {chosen!r}", field)
    return target.partnership


async def _target(info: Info, plan_id: UUID | None, measure_id: UUID | None) -> Target | None:
    ctx = info.context
    if measure_id is not None:
        target = await ctx.measure_target(measure_id)
        if target is None:
            raise error("NOT_FOUND", f"measureId: there is no measure {measure_id}", "measureId")
        if plan_id is not None:
            raise error("VALIDATION", "planId: give a plan or a measure, not both", "planId")
        return target
    if plan_id is not None:
        target = await ctx.plan_target(plan_id)
        if target is None:
            raise error("NOT_FOUND", f"planId: there is no plan {plan_id}", "planId")
        return target
    return None


async def _mine(info: Info, raw: strawberry.ID) -> UUID:
    row = await visible(info, parse_id(raw, "id"))
    assert row is not None
    return UUID(str(row["id"]))


def _gone(webhook_id: UUID) -> GraphQLError:
    return error("NOT_FOUND", f"id: webhook {webhook_id} was deleted meanwhile", "id")


def _payload(row: registry.Row | None) -> WebhookPayload:
    if row is None:
        raise error("NOT_FOUND", "id: the webhook was deleted meanwhile", "id")
    return WebhookPayload(webhook=Webhook.from_row(row))
