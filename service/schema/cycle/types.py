"""The reporting cycle's types: owners, returns, collections, publications and the returns a quarter awaits."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from uuid import UUID

import strawberry
from strawberry.types import Info

from domain import returns
from service import cycle_reads
from service.schema.enums import Quarter, ReturnState, member
from service.schema.ids import object_id
from service.schema.loaders import Row

# The plan a publication shows is a type of plans/types.py, which lists a plan's publications.
PlanType = strawberry.LazyType("Plan", "service.schema.plans.types")


@strawberry.type(description="Who reports a measure, and the partner agency they report for.")
class Owner:
    principal: str
    agency: str
    assigned_at: datetime
    assigned_by: str
    reason: str | None = strawberry.field(description="Why the owner was changed; null for the first one.")

    @classmethod
    def from_row(cls, r: Row) -> Owner:
        return cls(
            principal=r["principal"],
            agency=r["agency"],
            assigned_at=r["assigned_at"],
            assigned_by=r["assigned_by"],
            reason=r["reason"],
        )


@strawberry.type(description="A measure's return for one quarter, as the last action left it.")
class QuarterReturn:
    id: strawberry.ID = strawberry.field(description="Stable and opaque: `QuarterReturn:<measure id>:<quarter>`.")
    quarter: Quarter
    state: ReturnState
    submitted_by: str | None
    submitted_at: datetime | None
    missing: list[str] = strawberry.field(description="Components with no figure when it was last submitted.")
    acted_by: str | None = strawberry.field(description="Who last submitted, approved, sent back or reopened it.")
    acted_at: datetime | None
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
        return cls(
            id=id,
            quarter=quarter,
            state=state,
            submitted_by=r["submitted_by"],
            submitted_at=r["submitted_at"],
            missing=list(r["missing"]),
            acted_by=r["acted_by"],
            acted_at=r["acted_at"],
            reason=r["reason"],
            locked=state in returns.LOCKING,
        )


@strawberry.type(description="A quarter's collection of returns: when they are due.")
class Collection:
    id: strawberry.ID = strawberry.field(description="Stable and opaque: `Collection:<plan id>:<quarter>`.")
    quarter: Quarter
    due_on: date
    opened_by: str
    opened_at: datetime
    due_date_changed_by: str | None
    due_date_changed_at: datetime | None
    due_date_change_reason: str | None

    @classmethod
    def from_row(cls, r: Row) -> Collection:
        return cls(
            id=object_id("Collection", r["plan_id"], r["quarter"]),
            quarter=member(Quarter, r["quarter"]),
            due_on=r["due_on"],
            opened_by=r["opened_by"],
            opened_at=r["opened_at"],
            due_date_changed_by=r["changed_by"],
            due_date_changed_at=r["changed_at"],
            due_date_change_reason=r["change_reason"],
        )


@strawberry.type(description="A measure whose return was not approved when a quarter was published.")
class OutstandingReturn:
    measure_number: str
    state: ReturnState


@strawberry.type(description="A quarter's report as it was presented, fixed at a ledger position.")
class Publication:
    id: strawberry.ID
    plan_id: strawberry.ID
    quarter: Quarter
    title: str
    presented_on: date
    position: int = strawberry.field(description="The ledger position the publication shows the plan at.")
    forced: bool = strawberry.field(description="True when it was published with returns outstanding.")
    outstanding: list[OutstandingReturn]
    reason: str | None = strawberry.field(description="Why it was published with returns outstanding.")
    published_by: str
    published_at: datetime

    @classmethod
    def from_row(cls, r: Row) -> Publication:
        return cls(
            id=strawberry.ID(str(r["id"])),
            plan_id=strawberry.ID(str(r["plan_id"])),
            quarter=member(Quarter, r["quarter"]),
            title=r["title"],
            presented_on=r["presented_on"],
            position=r["position"],
            forced=r["forced"],
            outstanding=[
                OutstandingReturn(measure_number=n, state=member(returns.ReturnState, s))
                for n, s in zip(r["outstanding_numbers"], r["outstanding_states"], strict=True)
            ],
            reason=r["reason"],
            published_by=r["published_by"],
            published_at=r["published_at"],
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
    total: int
    outstanding: int
    submitted: int
    approved: int
    sent_back: int
    reopened: int

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
    FIGURE = "FIGURE"
    UNAVAILABLE = "UNAVAILABLE"
    MISSING = "MISSING"


@strawberry.type
class ComponentEntry:
    key: str
    label: str
    entry: Entry


@strawberry.type(description="One measure's return for the quarter, with its owner and its components' entries.")
class MeasureReturn:
    measure_id: strawberry.ID
    number: str
    title: str
    theme_code: str
    owner: str | None
    agency: str | None
    state: ReturnState
    submitted_by: str | None
    submitted_at: datetime | None
    acted_by: str | None
    acted_at: datetime | None
    reason: str | None
    overdue: bool = strawberry.field(description="Due date passed and not given in (neither submitted nor approved).")
    components: list[ComponentEntry]


@strawberry.type(description="A partner agency's returns for the quarter.")
class AgencyReturns:
    agency: str | None = strawberry.field(description="Null for the measures with no owner yet.")
    counts: ReturnCounts


@strawberry.type(description="Where a plan's quarter stands: every measure's return, by owner and agency.")
class ReturnsTracking:
    plan_id: strawberry.ID
    quarter: Quarter
    due_on: date | None = strawberry.field(description="Null until the quarter's collection is opened.")
    today: date = strawberry.field(description="The server's date (UTC) that `overdue` is judged by.")
    overdue: bool = strawberry.field(description="Due date passed with returns not given in.")
    counts: ReturnCounts
    agencies: list[AgencyReturns]
    measures: list[MeasureReturn]
