"""Queries of the audit trail: every event filtered and paged by cursor, and the hash chain's head.

A cursor here is a `ledgerEvents` cursor (service/cursors.py), so a
mirror can page through the trail and then subscribe after its last entry.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

import strawberry
from strawberry.types import Info

from domain.errors import DomainError
from service import audit_trail as trail
from service.auth.policy import Action
from service.schema.access import spanning
from service.schema.audit.types import AuditConnection, AuditDigest, AuditEntry, AuditFilter
from service.schema.cursors import parse_ledger_event_cursor
from service.schema.errors import from_domain
from service.schema.pages import After, First, page_size
from service.schema.write_inputs import by_name


@strawberry.type
class AuditQueries:
    @strawberry.field(
        description=f"Every event as an auditor reads it: who changed what, when, from what to what, and why. "
        f"Keyset pages of `first` entries (default {trail.DEFAULT_PAGE}, at most {trail.MAX_PAGE}) "
        "after the cursor `after`; a page never repeats or skips an entry while others are recorded. Needs the "
        "auditor role."
    )
    async def audit_trail(
        self,
        info: Info,
        filter: Annotated[
            AuditFilter | None,
            strawberry.argument(
                description="Which entries; null: every entry you may see. Needs the auditor role; a principal of one "
                "partnership reads its plans' entries only."
            ),
        ] = None,
        first: First = None,
        after: After = None,
    ) -> AuditConnection:
        chosen = filter or AuditFilter()
        try:
            selection = by_name(trail.selection, chosen, order=chosen.order.value)
        except DomainError as e:
            raise from_domain(e) from None
        size = page_size(first)
        principal = await spanning(info.context, Action.READ_AUDIT, selection.plan_id, selection.measure_id)
        if principal.partnership is not None:
            selection = replace(selection, partnership=principal.partnership)
        return await audit_page(info, selection, size, after)

    @strawberry.field(
        description="The head of the hash chain over the stored events, for publishing. Needs the auditor role."
    )
    async def audit_digest(self, info: Info) -> AuditDigest:
        info.context.require(Action.READ_AUDIT, None)
        head = await trail.chain_head(info.context.reads)
        return AuditDigest(position=head.position, hash=head.hash.hex())


async def audit_page(info: Info, selection: trail.Selection, size: int, after: str | None) -> AuditConnection:
    """A page of `size` selected entries after the cursor `after`, for a caller already let read them."""
    rows, more = await audit_rows(info, selection, size, after)
    return AuditConnection.of([AuditEntry.from_row(r) for r in rows], lambda e: e.cursor, after, more)


async def audit_rows(
    info: Info, selection: trail.Selection, size: int, after: str | None
) -> tuple[list[trail.Row], bool]:
    """The rows of a page of `size` (see `page_size`) selected entries after the cursor `after`, and whether
    more follow."""
    position = parse_ledger_event_cursor(after)[0] if after is not None else None
    return await trail.page(info.context.reads, selection, position, size)
