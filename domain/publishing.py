"""A plan's side of the quarterly reporting cycle: each quarter's collection of returns, and its publications.

Opening a quarter's collection asks the partner agencies for their returns by
a due date. Publishing a quarter records the report the board was given: a
title, the date it was presented, and the ledger position it fixes, so that
what was published can be read back exactly (every read-model row carries the
positions it was true between) and checked against the hash chain's link at
that position.

Whether every return of the quarter is approved is a fact about all of the
plan's measures, each an aggregate of its own; the caller gathers it at the
position the publication fixes (`PublicationFacts`) and the plan decides on it
here: with returns outstanding, a quarter is published only when forced, with
a reason, and what was outstanding is recorded. A quarter already published is
published again only if something in the plan changed since.
`PlanCycle` is mixed into `Plan`, which names these events itself so that their
topics are the Plan's (domain/plan.py).
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from domain.errors import ValidationError
from domain.parts import AggregatePart
from domain.records import Stamp, stamp_of
from domain.values import MAX_LABEL, QUARTER_OF, Quarter, required_text, text


@dataclass(frozen=True)
class Outstanding:
    """A measure whose return for the quarter was not approved when the facts were gathered."""

    number: str
    state: str  # a ReturnState's value


@dataclass(frozen=True)
class PublicationFacts:
    """What the plan's measures held at the position a publication fixes, gathered by the caller.

    `position`: the ledger position published (None: the ledger's last recorded position).
    `outstanding`: the measures whose return for the quarter was not approved at that position.
    `last_change`: the position of the plan's last change other than a publication, at that
    position (None: not known, as when a plan file is imported).
    """

    position: int | None
    outstanding: tuple[Outstanding, ...] = ()
    last_change: int | None = None


@dataclass(frozen=True)
class Collection:
    """A quarter's collection of returns: each due date it has had, the first set when it was opened."""

    dates: tuple[tuple[date, Stamp], ...]

    @property
    def due_on(self) -> date:
        return self.dates[-1][0]

    @property
    def opened(self) -> Stamp:
        return self.dates[0][1]

    @property
    def changed(self) -> Stamp | None:
        """The last change of the due date, with its reason; None while it is the first."""
        return self.dates[-1][1] if len(self.dates) > 1 else None


@dataclass(frozen=True)
class Publication:
    id: UUID
    quarter: Quarter
    title: str
    presented_on: date
    position: int
    forced: bool
    outstanding: tuple[Outstanding, ...]
    stamp: Stamp  # who published it, when, and (when forced) why


def quarter_end(period_start: date, quarter: Quarter) -> date:
    """The last day of a quarter of a year starting on `period_start` (quarters of three months)."""
    months = period_start.month - 1 + 3 * quarter.number
    year, month = period_start.year + months // 12, months % 12 + 1
    day = min(period_start.day, calendar.monthrange(year, month)[1])
    return date.fromordinal(date(year, month, day).toordinal() - 1)


def _outstanding(entries: Sequence[dict[str, str]]) -> tuple[Outstanding, ...]:
    return tuple(Outstanding(e["number"], e["state"]) for e in entries)


class PlanCycle(AggregatePart):
    """Collections and publications: mixed into Plan, whose events these are."""

    class CollectionOpened(Aggregate.Event):
        quarter: str
        due_on: str
        actor: str

        def apply(self, aggregate: Any) -> None:
            opened = Collection(((date.fromisoformat(self.due_on), stamp_of(self)),))
            aggregate.collections[QUARTER_OF[self.quarter]] = opened

    class CollectionDueDateChanged(Aggregate.Event):
        quarter: str
        due_on: str
        actor: str
        reason: str

        def apply(self, aggregate: Any) -> None:
            quarter = QUARTER_OF[self.quarter]
            dates = aggregate.collections[quarter].dates
            changed = (date.fromisoformat(self.due_on), stamp_of(self, self.reason))
            aggregate.collections[quarter] = Collection((*dates, changed))

    class QuarterPublished(Aggregate.Event):
        publication_id: UUID
        quarter: str
        title: str
        presented_on: str
        position: int
        forced: bool
        outstanding: list[dict[str, str]]
        actor: str
        reason: str | None

        def apply(self, aggregate: Any) -> None:
            publication = Publication(
                id=self.publication_id,
                quarter=QUARTER_OF[self.quarter],
                title=self.title,
                presented_on=date.fromisoformat(self.presented_on),
                position=self.position,
                forced=self.forced,
                outstanding=_outstanding(self.outstanding),
                stamp=stamp_of(self, self.reason),
            )
            aggregate.publications.append(publication)

    if TYPE_CHECKING:  # the Plan's state this reads, and its own (assigned by the events above)
        id: UUID
        period_start: date
        collections: dict[Quarter, Collection]
        publications: list[Publication]

    def published(self, quarter: Quarter) -> list[Publication]:
        """The quarter's publications, oldest first."""
        return [p for p in self.publications if p.quarter is quarter]

    def open_collection(self, quarter: Quarter, due_on: date, *, actor: str) -> None:
        """Ask for the quarter's returns by `due_on`; a later change of date is `change_due_date`, with a reason."""
        if quarter in self.collections:
            due = self.collections[quarter].due_on
            raise ValidationError(
                "quarter",
                f"{quarter.value} collection is already open, due {due}; use changeDueDate with a reason",
                quarter.value,
            )
        self._check_due(quarter, due_on)
        self.trigger_event(self.CollectionOpened, quarter=quarter.value, due_on=due_on.isoformat(), actor=actor)

    def change_due_date(self, quarter: Quarter, due_on: date, *, reason: object, actor: str) -> None:
        """Move a quarter's due date, saying why."""
        why = required_text(reason, "reason")
        collection = self.collections.get(quarter)
        if collection is None:
            raise ValidationError(
                "quarter", f"{quarter.value} collection is not open; open it with openCollection", quarter.value
            )
        if collection.due_on == due_on:
            raise ValidationError("dueOn", f"{quarter.value} returns are already due {due_on}", due_on.isoformat())
        self._check_due(quarter, due_on)
        self.trigger_event(
            self.CollectionDueDateChanged, quarter=quarter.value, due_on=due_on.isoformat(), actor=actor, reason=why
        )

    def publish(
        self,
        quarter: Quarter,
        *,
        title: object,
        presented_on: date,
        force: bool,
        reason: object,
        facts: PublicationFacts,
        position: int,
        actor: str,
    ) -> UUID:
        """Record the quarter's report as presented, fixing `position`; returns the publication's id."""
        named = required_text(title, "title", limit=MAX_LABEL)
        why = text(reason, "reason")
        outstanding = facts.outstanding
        if outstanding and not force:
            listed = ", ".join(f"{o.number} ({o.state})" for o in outstanding)
            raise ValidationError(
                "force",
                f"{len(outstanding)} return(s) of {quarter.value} are not approved: {listed}; publish once they are,"
                " or with force and a reason",
                None,
            )
        if outstanding and why is None:
            raise ValidationError("reason", "publishing with returns outstanding needs a reason", None)
        earlier = self.published(quarter)
        if earlier and facts.last_change is not None and facts.last_change <= earlier[-1].position:
            last = earlier[-1]
            raise ValidationError(
                "quarter",
                f"nothing in the plan has changed since {quarter.value} was published as {last.title!r}"
                f" (publication {last.id}, position {last.position}): that publication stands",
                quarter.value,
            )
        publication_id = uuid5(self.id, f"publication {quarter.value} {len(earlier) + 1}")
        self.trigger_event(
            self.QuarterPublished,
            publication_id=publication_id,
            quarter=quarter.value,
            title=named,
            presented_on=presented_on.isoformat(),
            position=position,
            forced=bool(outstanding),
            outstanding=[{"number": o.number, "state": o.state} for o in outstanding],
            actor=actor,
            reason=why,
        )
        return publication_id

    def _check_due(self, quarter: Quarter, due_on: date) -> None:
        end = quarter_end(self.period_start, quarter)
        if due_on <= end:
            raise ValidationError(
                "dueOn",
                f"{quarter.value} returns cannot be due {due_on}: the quarter ends {end}",
                due_on.isoformat(),
            )
