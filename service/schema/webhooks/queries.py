"""Queries of webhooks: a partnership's admin lists its own, and reads one with its delivery log."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from service.auth.policy import Action
from service.schema.descriptions import WEBHOOK_ID
from service.schema.errors import parse_id
from service.schema.webhooks.access import visible
from service.schema.webhooks.types import Webhook
from service.webhooks import registry


@strawberry.type
class WebhookQueries:
    @strawberry.field(
        description="The webhooks of the caller's partnership (an operator's: every one), oldest first. Needs "
        "the admin role."
    )
    async def webhooks(self, info: Info) -> list[Webhook]:
        principal = info.context.require(Action.ADMIN, None)
        rows = await registry.listed(info.context.services.pool, principal.partnership)
        return [Webhook.from_row(r) for r in rows]

    @strawberry.field(
        description="One webhook of the caller's partnership, or null if it has none with this id. Needs the "
        "admin role."
    )
    async def webhook(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description=WEBHOOK_ID)]
    ) -> Webhook | None:
        row = await visible(info, parse_id(id, "id"), missing_ok=True)
        return None if row is None else Webhook.from_row(row)
