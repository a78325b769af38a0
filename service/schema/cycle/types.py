"""The reporting cycle's types: owners, returns, collections, publications and the returns a quarter awaits."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from uuid import UUID

import strawberry
from strawberry.types import Info

from domain import returns
from service import cycle_reads
from service.schema.columns import from_columns
from service.schema.descriptions import ACTED_AT, RETURN_REASON, RETURN_STATE, SUBMITTED_AT, SUBMITTED_BY
from service.schema.enums import Quarter, ReturnState, member
from service.schema.ids import object_id
from service.schema.loaders import Row

# The plan a publication shows is a type of plans/types.py, which lists a plan's publications.
PlanType = strawberry.LazyType("Plan", "service.schema.plans.types")


@strawberry.type(description="Who reports a measure, and the partner agency they report for.")
class Owner:
    principal: str = strawberry.field(description="The owner's principal name, e.g. `bob@police.example`.")
    agency: str = strawberry.field(description="The partner agency they report for.")
    assigned_at: datetime = strawberry.field(description="When they were assigned (UTC).")
    assigned_by: str = strawberry.field(description="Who assigned them.")
    reason: str | None = strawberry.field(description="Why the owner was changed; null for the first one.")

    @classmethod
    def from_row(cls, r: Row) -> Owner:
        return from_columns(cls, r)


@strawberry.type(description="A measure's return for one quarter, as the last action left it.")
class QuarterReturn:
    id: strawberry.ID = strawberry.field(description="Stable and opaque: `QuarterReturn:<measure id>:<quarter>`.")
    quarter: Quarter = strawberry.field(description="The quarter.")
    state: ReturnState = strawberry.field(description=RETURN_STATE)
    submitted_by: str | None = strawberry.field(description=SUBMITTED_BY)
    submitted_at: datetime | None = strawberry.field(description=SUBMITTED_AT)
    missing: list[str] = strawberry.field(description="Components with no figure when it was last submitted.")
    acted_by: str | None = strawberry.field(description="Who last submitted, approved, sent back or reopened it.")
    acted_at: datetime | None = strawberry.field(description=ACTED_AT)
    reason: str | None = strawberry.field(description="Why it was last sent back or reopened.")
    locked: bool = strawberry.field(description="True while its quarter refuses changes (SUBMITTED or APPROVED).")

    @classmethod
    def from_row(cls, measure_id: UUID, quarter: Quarter, r: Row | None) -> QuarterReturn:
        id = object_id("QuarterReturn", measure_id, quarter.value)
        if r is None:
            return cls(
                id=id,
                quarter=quarter,
                state=returns.ReturnState.OUTSTANDING,
                submitted_by=None,
                submitted_at=None,
                missing=[],
                acted_by=None,
                acted_at=None,
                reason=None,
                locked=False,
            )
        state = member(returns.ReturnState, r["state"])
        return from_columns(
            cls, r, id=id, quarter=quarter, state=state, missing=list(r["missing"]), locked=state in returns.LOCKING
        )


@strawberry.type(description="A quarter's collection of returns: when they are due.")
class Collection:
    id: strawberry.ID = strawberry.field(description="Stable and opaque: `Collection:<plan id>:<quarter>`.")
    quarter: Quarter = strawberry.field(description="The quarter whose returns are asked for.")
    due_on: date = strawberry.field(description="When they are due.")
    opened_by: str = strawberry.field(description="Who opened the collection.")
    opened_at: datetime = strawberry.field(description="When (UTC).")
    due_date_changed_by: str | None = strawberry.field(description="Who last moved the due date; null if never moved.")
    due_date_changed_at: datetime | None = strawberry.field(description="When it was last moved (UTC); null if never.")
    due_date_change_reason: str | None = strawberry.field(description="Why it was last moved; null if never.")

    @classmethod
    def from_row(cls, r: Row) -> Collection:
        return from_columns(
            cls,
            r,
            id=object_id("Collection", r["plan_id"], r["quarter"]),
            quarter=member(Quarter, r["quarter"]),
            due_date_changed_by=r["changed_by"],
            due_date_changed_at=r["changed_at"],
            due_date_change_reason=r["change_reason"],
        )


@strawberry.type(description="A measure whose return was not approved when a quarter was published.")
class OutstandingReturn:
    measure_number: str = strawberry.field(description="The measure's number, e.g. `5.1`.")
    state: ReturnState = strawberry.field(description="Where its return stood when the quarter was published.")


@strawberry.type(description="A quarter's report as it was presented, fixed at a ledger position.")
class Publication:
    id: strawberry.ID = strawberry.field(
        description="Stable and opaque: the publication's UUID. Pass it as `publication(id:)`, "
        "`plan(publication:)` or `changesSince(publicationId:)`."
    )
    plan_id: strawberry.ID = strawberry.field(description="The plan's `id`.")
    quarter: Quarter = strawberry.field(description="The quarter it published.")
    title: str = strawberry.field(description="Its title, e.g. `Safer Stockton Partnership board, 27 November 2012`.")
    presented_on: date = strawberry.field(description="The date it was presented.")
    position: int = strawberry.field(description="The ledger position the publication shows the plan at.")
    forced: bool = strawberry.field(description="True when it was published with returns outstanding.")
    outstanding: list[OutstandingReturn] = strawberry.field(
        description="The measures whose returns were not approved when it was published; empty unless forced."
    )
    reason: str | None = strawberry.field(description="Why it was published with returns outstanding.")
    published_by: str = strawberry.field(description="Who published it.")
    published_at: datetime = strawberry.field(description="When it was recorded (UTC).")

    @classmethod
    def from_row(cls, r: Row) -> Publication:
        return from_columns(
            cls,
            r,
            id=strawberry.ID(str(r["id"])),
            plan_id=strawberry.ID(str(r["plan_id"])),
            quarter=member(Quarter, r["quarter"]),
            outstanding=[
                OutstandingReturn(measure_number=n, state=member(returns.ReturnState, s))
                for n, s in zip(r["outstanding_numbers"], r["outstanding_states"], strict=True)
            ],
        )

    @strawberry.field(
        description="The hash chain's link at the publication's position, as POSITION:HASH: print it with the "
        "report, and check the ledger against it with `measure-ledger verify --digest POSITION:HASH`."
    )
    async def digest(self, info: Info) -> str | None:
        link = await info.context.loaders.at(None).links.load(self.position)
        return cycle_reads.digest(self.position, link["hash"] if link else None)

    @strawberry.field(description="The plan exactly as published: every field as it stood at the position.")
    async def plan(self, info: Info) -> PlanType:
        row = await info.context.loaders.at(self.position).plan.load(UUID(self.plan_id))
        return PlanType.resolve_type().from_row(row, self.position)


@strawberry.type(description="How many of a quarter's returns stand where: the counts of a progress bar.")
class ReturnCounts:
    total: int = strawberry.field(description="Every measure of the plan.")
    outstanding: int = strawberry.field(description="Not yet submitted.")
    submitted: int = strawberry.field(description="Submitted, awaiting approval.")
    approved: int = strawberry.field(description="Approved.")
    sent_back: int = strawberry.field(description="Sent back to their owners for changes.")
    reopened: int = strawberry.field(description="Reopened after approval for a correction.")

    @classmethod
    def of(cls, states: list[returns.ReturnState]) -> ReturnCounts:
        def n(state: returns.ReturnState) -> int:
            return sum(1 for s in states if s is state)

        r = returns.ReturnState
        return cls(
            total=len(states),
            outstanding=n(r.OUTSTANDING),
            submitted=n(r.SUBMITTED),
            approved=n(r.APPROVED),
            sent_back=n(r.SENT_BACK),
            reopened=n(r.REOPENED),
        )


@strawberry.enum(description="What a component holds for the quarter.")
class Entry(Enum):
    FIGURE = strawberry.enum_value("FIGURE", description="It has a figure for the quarter.")
    UNAVAILABLE = strawberry.enum_value("UNAVAILABLE", description="Its figure was marked unavailable, with a reason.")
    MISSING = strawberry.enum_value("MISSING", description="Nothing yet: neither a figure nor an unavailable mark.")


@strawberry.type(description="What one component of a measure holds for the quarter.")
class ComponentEntry:
    key: str = strawberry.field(description="The component's key.")
    label: str = strawberry.field(description="The component's label.")
    entry: Entry = strawberry.field(description="FIGURE, UNAVAILABLE or MISSING.")


@strawberry.type(description="One measure's return for the quarter, with its owner and its components' entries.")
class MeasureReturn:
    measure_id: strawberry.ID = strawberry.field(description="The measure's `id`.")
    number: str = strawberry.field(description="The measure's number, e.g. `5.1`.")
    title: str = strawberry.field(description="The measure's title.")
    theme_code: str = strawberry.field(description="The measure's theme's code.")
    owner: str | None = strawberry.field(description="The owner's principal name; null until one is assigned.")
    agency: str | None = strawberry.field(description="The owner's partner agency; null until an owner is assigned.")
    state: ReturnState = strawberry.field(description=RETURN_STATE)
    submitted_by: str | None = strawberry.field(description=SUBMITTED_BY)
    submitted_at: datetime | None = strawberry.field(description=SUBMITTED_AT)
    acted_by: str | None = strawberry.field(
        description="Who last submitted, approved, sent back or reopened it; null while OUTSTANDING."
    )
    acted_at: datetime | None = strawberry.field(description=ACTED_AT)
    reason: str | None = strawberry.field(description=RETURN_REASON)
    overdue: bool = strawberry.field(description="Due date passed and not given in (neither submitted nor approved).")
    components: list[ComponentEntry] = strawberry.field(
        description="What each of its components holds for the quarter."
    )


@strawberry.type(description="A partner agency's returns for the quarter.")
class AgencyReturns:
    agency: str | None = strawberry.field(description="Null for the measures with no owner yet.")
    counts: ReturnCounts = strawberry.field(description="How its returns stand.")


@strawberry.type(description="Where a plan's quarter stands: every measure's return, by owner and agency.")
class ReturnsTracking:
    plan_id: strawberry.ID = strawberry.field(description="The plan's `id`.")
    quarter: Quarter = strawberry.field(description="The quarter.")
    due_on: date | None = strawberry.field(description="Null until the quarter's collection is opened.")
    today: date = strawberry.field(description="The server's date (UTC) that `overdue` is judged by.")
    overdue: bool = strawberry.field(description="Due date passed with returns not given in.")
    counts: ReturnCounts = strawberry.field(description="How the plan's returns stand: the counts of a progress bar.")
    agencies: list[AgencyReturns] = strawberry.field(description="The same counts per partner agency.")
    measures: list[MeasureReturn] = strawberry.field(description="Every measure's return, by number.")
