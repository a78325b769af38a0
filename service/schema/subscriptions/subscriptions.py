"""Subscriptions: status changes and every ledger event, resumable from a cursor.

Each stream comes from this process's `Feed` for its table (service/fanout.py):
a replay from the table after `after`, then the live rows, each exactly once
and in order, whichever process the client reconnects to.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Annotated

import strawberry
from strawberry.types import Info

from service.auth.policy import Action
from service.cursors import ledger_event_cursor, status_change_cursor
from service.schema.access import feed_filters
from service.schema.audit.types import AuditEntry
from service.schema.cursors import parse_ledger_event_cursor, parse_status_change_cursor
from service.schema.errors import error
from service.schema.subscriptions.feeds import stream
from service.schema.subscriptions.types import AfterChange, OfMeasure, OfPlan, StatusChange


def _require_principal(info: Info) -> None:
    if info.context.principal is None:
        raise error(
            "UNAUTHENTICATED",
            'subscriptions need a token: send {"Authorization": "Bearer mlt_..."} in the connection_init payload',
        )


@strawberry.type(
    description="Live streams over graphql-transport-ws on /graphql; the token travels in the connection_init payload."
)
class Subscription:
    @strawberry.subscription(
        description="Each quarter whose status changes, optionally of one plan or measure. With `after` (a "
        "`cursor` you received), every later change exactly once and in order, then the live ones. Needs the "
        "viewer role; a principal of one "
        "partnership must name a planId or measureId."
    )
    async def status_changed(
        self,
        info: Info,
        plan_id: OfPlan = None,
        measure_id: OfMeasure = None,
        after: AfterChange = None,
    ) -> AsyncGenerator[StatusChange, None]:
        # Checked here, before the stream starts, so a bad argument is an `error` message, not a `next`.
        _require_principal(info)
        filters = await feed_filters(
            info.context, Action.READ_CURRENT, "statusChanged", planId=plan_id, measureId=measure_id
        )
        info.context.forget_reads()
        start = None if after is None else parse_status_change_cursor(after)
        feed = info.context.services.feeds.status_changes
        return stream("statusChanged", feed, start, filters, status_change_cursor)

    @strawberry.subscription(
        description="Every event the ledger records, optionally of one plan, for mirrors. With `after` (a "
        "`cursor` you received), every later event exactly once and in order, then the live ones. Needs the "
        "auditor role; a principal of one "
        "partnership must name a planId."
    )
    async def ledger_events(
        self,
        info: Info,
        plan_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="Only this plan's events; a principal of one partnership must name one."),
        ] = None,
        after: Annotated[
            str | None,
            strawberry.argument(
                description="An entry's `cursor` (from `ledgerEvents` or `auditTrail`): start after it. Null: from now."
            ),
        ] = None,
    ) -> AsyncGenerator[AuditEntry, None]:
        _require_principal(info)
        filters = await feed_filters(info.context, Action.READ_AUDIT, "ledgerEvents", planId=plan_id)
        info.context.forget_reads()
        start = None if after is None else parse_ledger_event_cursor(after)
        feed = info.context.services.feeds.ledger_events
        return stream("ledgerEvents", feed, start, filters, ledger_event_cursor)
