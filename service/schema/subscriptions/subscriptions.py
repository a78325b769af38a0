"""Subscriptions: status changes and every ledger event, resumable from a cursor.

Each stream comes from this process's `Feed` for its table (service/fanout.py):
a replay from the table after `after`, then the live rows, each exactly once
and in order, whichever process the client reconnects to.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from uuid import UUID

import strawberry
from strawberry.types import Info

from service.auth.policy import Action
from service.cursors import ledger_event_cursor, status_change_cursor
from service.fanout import Filters
from service.schema.access import one_plan_for, spanning
from service.schema.audit.types import AuditEntry
from service.schema.cursors import parse_ledger_event_cursor, parse_status_change_cursor
from service.schema.errors import error, parse_id
from service.schema.subscriptions.feeds import deliver
from service.schema.subscriptions.types import StatusChange


def _require_principal(info: Info) -> None:
    if info.context.principal is None:
        raise error(
            "UNAUTHENTICATED",
            'subscriptions need a token: send {"Authorization": "Bearer mlt_..."} in the connection_init payload',
        )


def _filters(**ids: strawberry.ID | None) -> Filters:
    """Column filters from optional id arguments, each checked to be an id."""
    filters: dict[str, UUID] = {}
    for name, raw in ids.items():
        if raw is not None:
            column = "".join(f"_{c.lower()}" if c.isupper() else c for c in name)
            filters[column] = parse_id(raw, name)
    return filters


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="Each quarter whose status changes, optionally of one plan or measure. With `after` (a "
        "`cursor` you received), every later change exactly once and in order, then the live ones."
    )
    async def status_changed(
        self,
        info: Info,
        plan_id: strawberry.ID | None = None,
        measure_id: strawberry.ID | None = None,
        after: str | None = None,
    ) -> AsyncGenerator[StatusChange, None]:
        # Checked here, before the stream starts, so a bad argument is an `error` message, not a `next`.
        _require_principal(info)
        filters = _filters(planId=plan_id, measureId=measure_id)
        principal = await spanning(info.context, Action.READ_CURRENT, filters.get("plan_id"), filters.get("measure_id"))
        one_plan_for(principal, filters.get("plan_id"), filters.get("measure_id"), "statusChanged")
        info.context.forget_reads()
        start = None if after is None else parse_status_change_cursor(after)
        feed = info.context.services.feeds.status_changes
        return deliver("statusChanged", feed, start, filters, status_change_cursor)

    @strawberry.subscription(
        description="Every event the ledger records, optionally of one plan, for mirrors. With `after` (a "
        "`cursor` you received), every later event exactly once and in order, then the live ones."
    )
    async def ledger_events(
        self,
        info: Info,
        plan_id: strawberry.ID | None = None,
        after: str | None = None,
    ) -> AsyncGenerator[AuditEntry, None]:
        _require_principal(info)
        filters = _filters(planId=plan_id)
        principal = await spanning(info.context, Action.READ_AUDIT, filters.get("plan_id"), None)
        one_plan_for(principal, filters.get("plan_id"), None, "ledgerEvents")
        info.context.forget_reads()
        start = None if after is None else parse_ledger_event_cursor(after)
        feed = info.context.services.feeds.ledger_events
        return deliver("ledgerEvents", feed, start, filters, ledger_event_cursor)
