"""A component's baselines and its quarterly figures, as a measure shows them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated
from uuid import UUID

import strawberry
from strawberry.types import Info

from domain.rules import round1
from service import audit_trail as trail
from service.auth.policy import Action
from service.schema.access import spanning
from service.schema.audit.queries import audit_rows
from service.schema.audit.types import Revision
from service.schema.columns import from_columns
from service.schema.descriptions import (
    BASELINE_NOTE,
    BASELINE_PERIOD,
    BASELINE_PROFILE,
    FIGURE_COMMENTARY,
    RECORDED_AT,
    RECORDED_BY,
)
from service.schema.enums import Quarter, Status, member
from service.schema.ids import object_id
from service.schema.loaders import Row
from service.schema.pages import DEFAULT_PAGE, MAX_PAGE, Connection, page_size


@strawberry.type(description="A component's reference amount, for a named period: what its figures are compared with.")
class Baseline:
    id: strawberry.ID = strawberry.field(
        description="Stable and opaque: `Baseline:<measure id>:<component key>:<n>`, the component's n-th baseline."
    )
    value: Decimal | None = strawberry.field(
        description="The amount: a count, or a rate in percent; for a rate given as a fraction, the value as "
        "stated (null if none was)."
    )
    numerator: Decimal | None = strawberry.field(description="A rate's numerator; null unless given as a fraction.")
    denominator: Decimal | None = strawberry.field(description="A rate's denominator; null unless given as a fraction.")
    period: str | None = strawberry.field(description=BASELINE_PERIOD)
    profile: list[Decimal] | None = strawberry.field(description=BASELINE_PROFILE)
    note: str | None = strawberry.field(description=BASELINE_NOTE)
    is_reset: bool = strawberry.field(description="True for a baseline that superseded an earlier one (resetBaseline).")
    reason: str | None = strawberry.field(description="Why it was reset; null for the first baseline.")
    recorded_at: datetime = strawberry.field(description=RECORDED_AT)
    recorded_by: str = strawberry.field(description=RECORDED_BY)
    discrepancy: bool = strawberry.field(description="True where a stated rate contradicts its own fraction.")
    discrepancy_reason: str | None = strawberry.field(
        description="Why `discrepancy` is true, e.g. `stated rate 56% but 38 of 76 is 50.0%`; null when false."
    )
    rate: Decimal | None = strawberry.field(
        description="The rate in percent, where the baseline is one: worked out exactly from its numerator and "
        "denominator when it has them (36 of 46 is 78.26…, whatever `value` states), else `value` for a RATE "
        "measure. Null for a count."
    )

    @classmethod
    def from_row(cls, r: Row) -> Baseline:
        return from_columns(
            cls,
            r,
            id=object_id("Baseline", r["measure_id"], r["component"], r["seq"]),
            profile=list(r["profile"]) if r["profile"] is not None else None,
        )


@strawberry.type(
    description="A component's reported figure for a quarter, its latest revision, with its comparison, "
    "change and status. Its `id` stays the same through revisions."
)
class Figure:
    measure_id: strawberry.Private[UUID]
    at: strawberry.Private[int | None]
    id: strawberry.ID = strawberry.field(
        description="Stable and opaque: `Figure:<measure id>:<component key>:<quarter>`, the same across revisions."
    )
    component: str = strawberry.field(description="Its component's key.")
    quarter: Quarter = strawberry.field(description="The quarter it reports.")
    value: Decimal | None = strawberry.field(
        description="The figure: a count, or a rate in percent as stated; null for an unavailable figure, or a "
        "rate given only as a fraction."
    )
    numerator: Decimal | None = strawberry.field(description="A rate's numerator; null unless given as a fraction.")
    denominator: Decimal | None = strawberry.field(description="A rate's denominator; null unless given as a fraction.")
    available: bool = strawberry.field(
        description="False when it was marked unavailable (then value is null and status NO_DATA)."
    )
    unavailable_reason: str | None = strawberry.field(description="Why it could not be had; null while available.")
    measured: Decimal | None = strawberry.field(
        description="The number compared with the baseline: the rate for RATE measures, else the value."
    )
    comparison_value: Decimal | None = strawberry.field(
        description="What the figure is held against: worked out from the baseline by the basis (e.g. 2472 × "
        "2/4 = 1236); null when nothing is compared."
    )
    change_exact: Decimal | None = strawberry.field(
        description="The change, unrounded: percent, or percentage points for RATE."
    )
    status: Status = strawberry.field(
        description="Its verdict: ON_TRACK, AT_RISK, OFF_TRACK, NO_DATA or NOT_ASSESSED (docs/rules.md)."
    )
    rule: str = strawberry.field(description="Why the status is what it is, from the rule that decided it.")
    reported_change: Decimal | None = strawberry.field(
        description="The change the report itself stated (percent, points for RATE); null if none."
    )
    discrepancy: bool = strawberry.field(
        description="True where the stated change or rate disagrees with the computed one by the plan's "
        "threshold or more; flagged, never corrected."
    )
    discrepancy_reason: str | None = strawberry.field(
        description="Why `discrepancy` is true, e.g. `reported change -28.1 but computed -17.7`; null when false."
    )
    commentary: str | None = strawberry.field(description=FIGURE_COMMENTARY)
    revision: int = strawberry.field(
        description="1 when first reported; one more with each revision or unavailable mark."
    )
    reason: str | None = strawberry.field(description="Why this figure was last revised or marked unavailable.")
    recorded_at: datetime = strawberry.field(description="When this revision was recorded (UTC).")
    recorded_by: str = strawberry.field(description="Who recorded this revision.")
    change: Decimal | None = strawberry.field(description="The change, rounded half-up to one decimal place.")
    rate: Decimal | None = strawberry.field(
        description="The rate in percent, where the figure is one: worked out exactly from its numerator and "
        "denominator when it has them (13 of 21 is 61.90…, and `value` may then be null or a stated rate), else "
        "`value` for a RATE measure. Null for a count."
    )
    progress: Decimal | None = strawberry.field(
        description="TARGET_COUNT only: the figure as a percentage of the year's target, unrounded (2 analyses "
        "of a target of 4 is 50). Null for other bases, without a baseline, or for a target of zero."
    )
    baseline_seq: strawberry.Private[int | None]

    @classmethod
    def from_row(cls, r: Row, at: int | None = None) -> Figure:
        return from_columns(
            cls,
            r,
            at=at,
            id=object_id("Figure", r["measure_id"], r["component"], r["quarter"]),
            quarter=member(Quarter, r["quarter"]),
            change_exact=r["change"],
            change=round1(r["change"]) if r["change"] is not None else None,
            status=member(Status, r["status"]),
        )

    @strawberry.field(
        description="The baseline this figure was compared with: the component's baseline in force when read (now, "
        "or at `asOf`), so after a reset the new one, and read at a moment before it the one then. Null where "
        "the component had none."
    )
    async def baseline(self, info: Info) -> Baseline | None:
        if self.baseline_seq is None:
            return None
        rows = await info.context.loaders.at(self.at).baselines.load(self.measure_id)
        found = (r for r in rows if r["component"] == self.component and r["seq"] == self.baseline_seq)
        row = next(found, None)
        return Baseline.from_row(row) if row is not None else None

    @strawberry.field(
        description="This figure's own history: its submission, revisions and unavailable marks, each an audit "
        "entry with every field it changed (`changes`), oldest first, in keyset pages of `first` entries (default "
        f"{DEFAULT_PAGE}, at most {MAX_PAGE}) after the cursor `after`, as `Measure.historyConnection`. Needs the "
        "auditor role. Read asOf a moment, it stops at that moment."
    )
    async def history(
        self,
        info: Info,
        first: Annotated[
            int | None, strawberry.argument(description=f"How many entries, 0 to {MAX_PAGE}; {DEFAULT_PAGE} if null.")
        ] = None,
        after: Annotated[
            str | None, strawberry.argument(description="A cursor: the entries after it; from the first if null.")
        ] = None,
    ) -> Connection[Revision]:
        size = page_size(first)
        await spanning(info.context, Action.READ_AUDIT, None, self.measure_id)
        slot = trail.Selection(
            measure_id=self.measure_id, component=self.component, quarter=self.quarter.value, until=self.at
        )
        rows, more = await audit_rows(info, slot, size, after)
        return Connection.of([Revision.from_row(r) for r in rows], lambda e: e.cursor, after, more)

    @strawberry.field(
        description="True when the figure changed after the latest publication showing its quarter (a publication "
        "of that quarter or a later one): that report showed another revision of it, or none."
    )
    async def revised_after_publication(self, info: Info) -> bool:
        revised = await info.context.loaders.at(self.at).revised.load(self.measure_id)
        return (self.component, self.quarter.value) in revised
