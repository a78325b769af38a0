"""Queries of the reporting cycle: where a quarter's returns stand, a publication, and what changed since one."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime
from typing import Annotated
from uuid import UUID

import strawberry
from strawberry.types import Info

from domain.returns import LOCKING, ReturnState
from service import audit_trail as trail
from service import cycle_reads
from service.auth.policy import Action
from service.schema.audit.queries import audit_page
from service.schema.audit.types import AuditConnection
from service.schema.columns import from_columns
from service.schema.cycle.types import (
    AgencyReturns,
    ComponentEntry,
    Entry,
    MeasureReturn,
    Publication,
    ReturnCounts,
    ReturnsTracking,
)
from service.schema.descriptions import PLAN_ID
from service.schema.enums import Quarter, member
from service.schema.errors import error, parse_id
from service.schema.loaders import Row
from service.schema.pages import After, First, page_size

ENTRY = {None: Entry.MISSING, True: Entry.FIGURE, False: Entry.UNAVAILABLE}


async def publication_of(info: Info, raw: object, field: str, action: Action = Action.READ_CURRENT) -> Row | None:
    """A publication's row, if the caller may read its plan (what was published is for its plan's readers)."""
    publication_id = parse_id(raw, field)
    row = await cycle_reads.publication(info.context.reads, publication_id)
    target = await info.context.plan_target(row["plan_id"]) if row else None
    info.context.require(action, target)
    return row


@strawberry.type
class CycleQueries:
    @strawberry.field(
        description="Where a plan's quarter stands: each measure's return by owner and agency, what each component "
        "holds, the due date and whether it has passed, and the counts of a progress bar. Read now (UTC). Needs "
        "the viewer role in the plan's partnership."
    )
    async def returns(
        self,
        info: Info,
        plan_id: Annotated[strawberry.ID, strawberry.argument(description=PLAN_ID)],
        quarter: Annotated[Quarter, strawberry.argument(description="The quarter.")],
    ) -> ReturnsTracking:
        pid = parse_id(plan_id, "planId")
        target = await info.context.plan_target(pid)
        info.context.require(Action.READ_CURRENT, target)
        if target is None:
            raise error("NOT_FOUND", f"planId: no plan with id {pid}", "planId")
        tracking = await cycle_reads.returns_tracking(info.context.reads, pid, quarter)
        return tracking_of(pid, quarter, tracking, datetime.now(UTC).date())

    @strawberry.field(
        description="One publication, or null if there is none with this id. Needs the viewer role in its "
        "plan's partnership."
    )
    async def publication(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="The publication's `id`.")]
    ) -> Publication | None:
        row = await publication_of(info, id, "id")
        return Publication.from_row(row) if row else None

    @strawberry.field(
        description="What changed in a publication's plan after the position it fixes, oldest first: every entry of "
        f"the audit trail but the publication's own, in keyset pages of `first` (default {trail.DEFAULT_PAGE}, "
        f"at most {trail.MAX_PAGE}) after the cursor `after`."
    )
    async def changes_since(
        self,
        info: Info,
        publication_id: Annotated[
            strawberry.ID, strawberry.argument(description="The publication's `id`. Needs the auditor role.")
        ],
        first: First = None,
        after: After = None,
    ) -> AuditConnection:
        row = await publication_of(info, publication_id, "publicationId", Action.READ_AUDIT)
        if row is None:
            raise error("NOT_FOUND", f"publicationId: no publication with id {publication_id}", "publicationId")
        size = page_size(first)
        # The publication's own entry is where its row begins (valid_from): it is not a change to what it showed.
        chosen = trail.Selection(plan_id=row["plan_id"], since=row["position"], skip=row["valid_from"])
        return await audit_page(info, chosen, size, after)


def tracking_of(plan_id: UUID, quarter: Quarter, tracking: cycle_reads.Tracking, today: date) -> ReturnsTracking:
    """The rows of a plan's quarter, counted and judged against its due date."""
    due_on = tracking.collection["due_on"] if tracking.collection else None
    late = due_on is not None and today > due_on
    measures = []
    for m in tracking.measures:
        state = member(ReturnState, m["state"]) if m["state"] else ReturnState.OUTSTANDING
        components = [
            ComponentEntry(key=c["key"], label=c["label"], entry=ENTRY[c["available"]])
            for c in tracking.components.get(m["id"], [])
        ]
        measures.append(
            from_columns(
                MeasureReturn,
                m,
                measure_id=strawberry.ID(str(m["id"])),
                owner=m["principal"],
                state=state,
                overdue=late and state not in LOCKING,
                components=components,
            )
        )
    by_agency: dict[str | None, list[ReturnState]] = defaultdict(list)
    for r in measures:
        by_agency[r.agency].append(r.state)
    agencies = [
        AgencyReturns(agency=agency, counts=ReturnCounts.of(states))
        for agency, states in sorted(by_agency.items(), key=lambda item: (item[0] is None, item[0] or ""))
    ]
    return ReturnsTracking(
        plan_id=strawberry.ID(str(plan_id)),
        quarter=quarter,
        due_on=due_on,
        today=today,
        overdue=any(r.overdue for r in measures),
        counts=ReturnCounts.of([r.state for r in measures]),
        agencies=agencies,
        measures=measures,
    )
