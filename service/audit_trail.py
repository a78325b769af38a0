"""Reads of the audit trail: which entries a filter selects, a page of them, a stream of them.

Everything reads `audit_entries`, indexed on (column, position) for every
filterable column, so a page costs an index range scan whatever the size of
the ledger; nothing replays events. Pages are keyset pages on `position`:
a cursor names the last position seen, and entries recorded meanwhile only
ever take higher positions, so a page never repeats or skips an entry.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeAlias
from uuid import UUID

import asyncpg

from domain.audit import FACT_COLUMNS
from domain.errors import ValidationError
from domain.measure import Measure
from domain.plan import Plan
from domain.values import Quarter, parse_component_key
from projections.ledger_store.chain import GENESIS, Link
from projections.ledger_store.chain import TABLE as CHAIN

Row: TypeAlias = asyncpg.Record

COLUMNS = ("position", "recorded_at", "actor", *FACT_COLUMNS)
# Each field an entry's event changed, as json text (projections/field_changes.py), read as AuditEntry.changes.
CHANGE_COLUMNS = ("changes",)
DEFAULT_PAGE = 50
MAX_PAGE = 500
ORDERS = ("OLDEST_FIRST", "NEWEST_FIRST")
# The events an entry can record, by the names auditors filter on.
ACTIONS = frozenset(
    name
    for aggregate in (Plan, Measure)
    for name, value in vars(aggregate).items()
    if isinstance(value, type) and name not in ("Event", "Created")
)


@dataclass(frozen=True)
class Selection:
    """Which audit entries to read, and in which order."""

    plan_id: UUID | None = None
    measure_id: UUID | None = None
    actor: str | None = None
    action: str | None = None
    component: str | None = None
    quarter: str | None = None
    recorded_from: datetime | None = None  # inclusive
    recorded_to: datetime | None = None  # exclusive
    newest_first: bool = False
    partnership: str | None = None  # a principal of one partnership reads its plans' entries only
    since: int | None = None  # only entries after this position (exclusive)
    until: int | None = None  # only entries up to this position (inclusive): a read as of a moment
    skip: int | None = None  # leave out the entry at this position

    def query(
        self, placeholder: Callable[[int], str], after: int | None = None, limit: int | None = None
    ) -> tuple[str, list[Any]]:
        """The SELECT for these entries, after position `after`, with the driver's placeholders."""
        conditions: list[str] = []
        args: list[Any] = []

        def condition(template: str, value: Any) -> None:
            args.append(value)
            conditions.append(template.format(placeholder(len(args))))

        for column in ("plan_id", "measure_id", "actor", "action", "component", "quarter"):
            if (value := getattr(self, column)) is not None:
                condition(f"{column} = {{}}", value)
        if self.partnership is not None:
            condition(
                "plan_id IN (SELECT id FROM plans WHERE lower(partnership) = lower({}) AND valid_to IS NULL)",
                self.partnership,
            )
        if self.since is not None:
            condition("position > {}", self.since)
        if self.until is not None:
            condition("position <= {}", self.until)
        if self.skip is not None:
            condition("position <> {}", self.skip)
        if self.recorded_from is not None:
            condition("recorded_at >= {}", self.recorded_from)
        if self.recorded_to is not None:
            condition("recorded_at < {}", self.recorded_to)
        if after is not None:
            condition("position < {}" if self.newest_first else "position > {}", after)
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        order = " ORDER BY position DESC" if self.newest_first else " ORDER BY position"
        sql = f"SELECT {', '.join(COLUMNS + CHANGE_COLUMNS)} FROM audit_entries{where}{order}"  # noqa: S608
        if limit is not None:
            args.append(limit)
            sql += f" LIMIT {placeholder(len(args))}"
        return sql, args


def selection(
    *,
    plan_id: object = None,
    measure_id: object = None,
    actor: str | None = None,
    action: str | None = None,
    component: str | None = None,
    quarter: str | None = None,
    recorded_from: datetime | str | None = None,
    recorded_to: datetime | str | None = None,
    order: str | None = None,
) -> Selection:
    """A Selection from a client's filter, each part checked; a ValidationError names the field at fault."""
    if action is not None and action not in ACTIONS:
        raise ValidationError("action", f"{action[:60]!r} is not an action; one of {', '.join(sorted(ACTIONS))}")
    chosen = (order or "OLDEST_FIRST").upper()
    if chosen not in ORDERS:
        raise ValidationError("order", f"{chosen[:30]!r} is not an order; OLDEST_FIRST or NEWEST_FIRST")
    return Selection(
        plan_id=_id(plan_id, "planId"),
        measure_id=_id(measure_id, "measureId"),
        actor=actor,
        action=action,
        component=parse_component_key(component) if component else None,
        quarter=Quarter.parse(quarter).value if quarter else None,
        recorded_from=_moment(recorded_from, "recordedFrom"),
        recorded_to=_moment(recorded_to, "recordedTo"),
        newest_first=chosen == "NEWEST_FIRST",
    )


def _id(raw: object, field: str) -> UUID | None:
    if raw is None or raw == "":
        return None
    try:
        return UUID(str(raw))
    except ValueError:
        raise ValidationError(field, f"{str(raw)[:60]!r} is not a valid id") from None


def _moment(raw: datetime | str | None, field: str) -> datetime | None:
    if raw is None or raw == "":
        return None
    moment = raw
    if isinstance(raw, str):
        try:
            moment = datetime.fromisoformat(raw)
        except ValueError:
            raise ValidationError(field, f"{raw[:40]!r} is not an ISO 8601 date and time") from None
    assert isinstance(moment, datetime)
    if moment.tzinfo is None:
        raise ValidationError(field, "give a time zone offset, e.g. 2012-09-25T09:00:00Z")
    return moment


def page_size(first: int | None) -> int:
    """How many entries a page holds; LIMIT_EXCEEDED is the caller's to raise above MAX_PAGE."""
    if first is None:
        return DEFAULT_PAGE
    if first < 0:
        raise ValidationError("first", f"must be 0 or more, not {first}")
    return first


def _dollar(n: int) -> str:
    return f"${n}"


async def page(pool: asyncpg.Pool, chosen: Selection, after: int | None, size: int) -> tuple[list[Row], bool]:
    """Up to `size` entries after position `after`, and whether more follow."""
    sql, args = chosen.query(_dollar, after, size + 1)
    rows = await pool.fetch(sql, *args)
    return rows[:size], len(rows) > size


async def stream(pool: asyncpg.Pool, chosen: Selection, batch: int = 1000) -> AsyncIterator[list[Row]]:
    """Every selected entry, a batch at a time, through a server-side cursor: memory stays flat."""
    sql, args = chosen.query(_dollar)
    async with pool.acquire() as conn, conn.transaction(readonly=True):
        cursor = await conn.cursor(sql, *args)
        while rows := await cursor.fetch(batch):
            yield rows


async def chain_head(pool: asyncpg.Pool) -> Link:
    """The hash chain's last link; position 0 and the genesis hash before any event was linked."""
    row = await pool.fetchrow(f"SELECT position, hash FROM {CHAIN} ORDER BY position DESC LIMIT 1")  # noqa: S608
    return Link(row["position"], bytes(row["hash"])) if row else Link(0, GENESIS)


async def chain_link_at(pool: asyncpg.Pool, position: int) -> Link:
    """The chain's link at the last chained position at or before `position`: what a page of that moment
    prints, for `verify --digest`. Position 0 and the genesis hash before any event was linked."""
    row = await pool.fetchrow(
        f"SELECT position, hash FROM {CHAIN} WHERE position <= $1 ORDER BY position DESC LIMIT 1",  # noqa: S608
        position,
    )
    return Link(row["position"], bytes(row["hash"])) if row else Link(0, GENESIS)
