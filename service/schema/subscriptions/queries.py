"""`statusChanges`: the status changes `statusChanged` delivers, paged for integrations that poll.

Its cursors are the subscription's: a poller may subscribe after the last
change it read, and a subscriber may poll after the last message it took,
without missing or repeating a change. Both read `status_changes`, which
only ever grows in (position, quarter) order.
"""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from service.auth.policy import Action
from service.cursors import status_change_cursor
from service.fanout import STATUS_CHANGES
from service.schema.access import feed_filters
from service.schema.cursors import parse_status_change_cursor
from service.schema.pages import DEFAULT_PAGE, MAX_PAGE, Connection, First, page_size
from service.schema.subscriptions.types import AfterChange, OfMeasure, OfPlan, StatusChange


@strawberry.type
class StatusChangeQueries:
    @strawberry.field(
        description="Each quarter whose status changed, oldest first, optionally of one plan or measure: the "
        f"messages of `statusChanged`, in keyset pages of `first` (default {DEFAULT_PAGE}, at most {MAX_PAGE}) "
        "after the cursor `after`. The cursors are the subscription's: subscribe with `after` set to a page's "
        "`endCursor`, or poll after a message's `cursor`, and no change is missed or repeated. A first page "
        "(no `after`) that is empty still has an `endCursor` (null only before any status ever changed), so "
        "nothing that changes afterwards is missed. Needs the viewer role; a principal of one partnership must "
        "name a planId or measureId."
    )
    async def status_changes(
        self,
        info: Info,
        plan_id: OfPlan = None,
        measure_id: OfMeasure = None,
        first: First = None,
        after: AfterChange = None,
    ) -> Connection[StatusChange]:
        filters = await feed_filters(
            info.context, Action.READ_CURRENT, "statusChanges", planId=plan_id, measureId=measure_id
        )
        size = page_size(first)
        pool = info.context.services.pool
        start = parse_status_change_cursor(after) if after is not None else None
        # Read before the page: a change recorded after this read has a later key, so an empty first page
        # may end here without passing over a change it did not show.
        newest = await STATUS_CHANGES.last_key(pool) if start is None else None
        rows = await STATUS_CHANGES.rows_after(pool, start or (0, ""), size + 1, filters)
        changes = [StatusChange.from_row(r) for r in rows[:size]]
        page = Connection.of(changes, lambda c: c.cursor, after, len(rows) > size)
        if not changes and newest is not None and newest != (0, ""):
            page.page_info.end_cursor = status_change_cursor(newest)
        return page
