"""Who may manage which webhooks: a partnership's admins theirs, operators every one."""

from __future__ import annotations

from uuid import UUID

from strawberry.types import Info

from service.auth.policy import Action
from service.schema.errors import error
from service.schema.targets import Target
from service.webhooks import registry


async def visible(info: Info, webhook_id: UUID, *, missing_ok: bool = False) -> registry.Row | None:
    """The webhook, if the caller administers its partnership. Another partnership's is NOT_FOUND, as a
    webhook that does not exist is: its id says nothing to a principal of another partnership."""
    ctx = info.context
    principal = ctx.require(Action.ADMIN, None)
    row = await registry.get(ctx.services.pool, webhook_id)
    if row is not None and principal.partnership is not None:
        theirs = row["partnership"]
        if theirs is None or theirs.casefold() != principal.partnership.casefold():
            row = None
    if row is None and not missing_ok:
        raise error("NOT_FOUND", f"id: there is no webhook {webhook_id} in {principal.describe()}'s reach", "id")
    if row is not None:
        ctx.require(Action.ADMIN, Target(row["partnership"]) if row["partnership"] else None)
    return row
