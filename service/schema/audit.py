"""The audit trail: every event as an auditor reads it, filtered and paged by cursor; and the chain's head.

A cursor here is a `ledgerEvents` cursor (service/schema/cursors.py), so a
mirror can page through the trail and then subscribe after its last entry.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from enum import Enum

import strawberry
from strawberry.types import Info

from domain.errors import DomainError
from service import audit_read
from service.auth.policy import Action
from service.schema.access import spanning
from service.schema.audit_entry import AuditEntry
from service.schema.cursors import parse_ledger_event_cursor
from service.schema.errors import error, from_domain
from service.schema.pages import PageInfo


@strawberry.enum(description="Which entries come first.")
class AuditOrder(Enum):
    OLDEST_FIRST = "OLDEST_FIRST"
    NEWEST_FIRST = "NEWEST_FIRST"


@strawberry.input(description="Which entries of the audit trail to list; every part given must match.")
class AuditFilter:
    plan_id: strawberry.ID | None = None
    measure_id: strawberry.ID | None = None
    actor: str | None = strawberry.field(default=None, description="The principal who caused the event.")
    action: str | None = strawberry.field(default=None, description="The event's name, e.g. FigureRevised.")
    recorded_from: datetime | None = strawberry.field(default=None, description="Recorded at or after this moment.")
    recorded_to: datetime | None = strawberry.field(default=None, description="Recorded before this moment.")
    order: AuditOrder = AuditOrder.OLDEST_FIRST


@strawberry.type
class AuditEdge:
    cursor: str
    node: AuditEntry


@strawberry.type(description="A page of the audit trail.")
class AuditConnection:
    edges: list[AuditEdge]
    page_info: PageInfo

    @strawberry.field(description="The page's entries, without their edges.")
    def nodes(self) -> list[AuditEntry]:
        return [edge.node for edge in self.edges]


@strawberry.type(
    description="The head of the hash chain over the stored events: publish it, then check the "
    "ledger against it with `measure-ledger verify --digest POSITION:HASH`."
)
class AuditDigest:
    position: int = strawberry.field(description="The last event the chain covers; 0 before any.")
    hash: str = strawberry.field(description="Its link, SHA-256 in hex.")


@strawberry.type
class AuditQuery:
    @strawberry.field(
        description=f"Every event as an auditor reads it: who changed what, when, from what to what, and why. "
        f"Keyset pages of `first` entries (default {audit_read.DEFAULT_PAGE}, at most {audit_read.MAX_PAGE}) "
        "after the cursor `after`; a page never repeats or skips an entry while others are recorded."
    )
    async def audit_trail(
        self, info: Info, filter: AuditFilter | None = None, first: int | None = None, after: str | None = None
    ) -> AuditConnection:
        chosen = filter or AuditFilter()
        try:
            selection = audit_read.selection(
                plan_id=chosen.plan_id,
                measure_id=chosen.measure_id,
                actor=chosen.actor,
                action=chosen.action,
                recorded_from=chosen.recorded_from,
                recorded_to=chosen.recorded_to,
                order=chosen.order.value,
            )
            size = audit_read.page_size(first)
        except DomainError as e:
            raise from_domain(e) from None
        principal = await spanning(info.context, Action.READ_AUDIT, selection.plan_id, selection.measure_id)
        if principal.partnership is not None:
            selection = replace(selection, partnership=principal.partnership)
        if size > audit_read.MAX_PAGE:
            raise error(
                "LIMIT_EXCEEDED",
                f"first: at most {audit_read.MAX_PAGE} entries a page, not {size}",
                "first",
                limit=audit_read.MAX_PAGE,
            )
        position = parse_ledger_event_cursor(after)[0] if after is not None else None
        rows, more = await audit_read.page(info.context.services.pool, selection, position, size)
        edges = [AuditEdge(cursor=entry.cursor, node=entry) for entry in map(AuditEntry.from_row, rows)]
        return AuditConnection(
            edges=edges, page_info=PageInfo(has_next_page=more, end_cursor=edges[-1].cursor if edges else after)
        )

    @strawberry.field(description="The head of the hash chain over the stored events, for publishing.")
    async def audit_digest(self, info: Info) -> AuditDigest:
        info.context.require(Action.READ_AUDIT, None)
        head = await audit_read.chain_head(info.context.services.pool)
        return AuditDigest(position=head.position, hash=head.hash.hex())
