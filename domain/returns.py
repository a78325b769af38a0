"""A measure's side of the quarterly reporting cycle: who owns it, its quarterly returns, and their lock.

A return is the owner's word that a quarter's figures are complete; an
approver checks it and approves it or sends it back. Its states:

    OUTSTANDING --submit--> SUBMITTED --approve--> APPROVED --reopen--> REOPENED
                                 |                                         |
                                 +--send back--> SENT_BACK                 |
    SENT_BACK and REOPENED --submit--> SUBMITTED  <------------------------+

While a quarter's return is SUBMITTED or APPROVED the quarter is locked: every
change to its figures, commentary and status override is refused with
`LOCKED`, naming what locks it and how to unlock it (an approver sends it back,
or reopens it, with a reason). What the approver approves is exactly what was
submitted. The principal who submitted a return may not approve it.

The returns live in the Measure aggregate beside the figures they lock, so an
approval and a figure written at the same moment conflict by version, and the
lock is checked where the figures are: no other aggregate is read.
`MeasureCycle` is mixed into `Measure`, which names these events itself so
that their topics are the Measure's (domain/measure.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar

from eventsourcing.domain import Aggregate

from domain.errors import ForbiddenError, LockedError, ValidationError
from domain.parts import AggregatePart
from domain.records import Stamp, stamp_of
from domain.values import MAX_LABEL, QUARTER_OF, Quarter, required_text, text


class ReturnState(StrEnum):
    OUTSTANDING = "OUTSTANDING"  # nothing submitted yet
    SUBMITTED = "SUBMITTED"  # awaiting an approver
    APPROVED = "APPROVED"
    SENT_BACK = "SENT_BACK"  # an approver asked for changes
    REOPENED = "REOPENED"  # approved, then opened again for changes


LOCKING = frozenset({ReturnState.SUBMITTED, ReturnState.APPROVED})


@dataclass(frozen=True)
class Owner:
    """The principal who reports a measure, and the partner agency they report for."""

    principal: str
    agency: str
    stamp: Stamp


@dataclass(frozen=True)
class ReturnRecord:
    """A quarter's return as the last action left it."""

    state: ReturnState
    stamp: Stamp  # the last action: who, when, and why
    submitted: Stamp  # the latest submission
    missing: tuple[str, ...]  # components with neither a figure nor an unavailable mark when submitted


def _put(aggregate: Any, quarter: Quarter, record: ReturnRecord) -> None:
    aggregate.returns[quarter] = record
    aggregate.return_history.setdefault(quarter, []).append(record)


class ReturnEvent(Aggregate.Event):
    """An action on a quarter's return, and the state it leaves the return in."""

    state: ClassVar[ReturnState]
    quarter: str


class ReturnMoved(ReturnEvent):
    """An approver's action on a submitted or approved return: its submission stays as it was."""

    actor: str

    def apply(self, aggregate: Any) -> None:
        quarter = QUARTER_OF[self.quarter]
        earlier: ReturnRecord = aggregate.returns[quarter]
        stamp = stamp_of(self, getattr(self, "reason", None))
        _put(aggregate, quarter, ReturnRecord(self.state, stamp, earlier.submitted, earlier.missing))


if TYPE_CHECKING:
    from domain.definition import Definition
    from domain.records import FigureRecord


class MeasureCycle(AggregatePart):
    """Owner, returns and locks: mixed into Measure, whose events these are."""

    class OwnerAssigned(Aggregate.Event):
        principal: str
        agency: str
        actor: str
        reason: str | None

        def apply(self, aggregate: Any) -> None:
            aggregate.owners.append(Owner(self.principal, self.agency, stamp_of(self, self.reason)))

    class ReturnSubmitted(ReturnEvent):
        state = ReturnState.SUBMITTED
        missing: list[str]
        actor: str

        def apply(self, aggregate: Any) -> None:
            stamp = stamp_of(self)
            record = ReturnRecord(self.state, stamp, stamp, tuple(self.missing))
            _put(aggregate, QUARTER_OF[self.quarter], record)

    class ReturnApproved(ReturnMoved):
        state = ReturnState.APPROVED

    class ReturnSentBack(ReturnMoved):
        state = ReturnState.SENT_BACK
        reason: str

    class ReturnReopened(ReturnMoved):
        state = ReturnState.REOPENED
        reason: str

    if TYPE_CHECKING:  # the Measure's state this reads, and its own (assigned by the events above)
        number: str
        definition: Definition
        figures: dict[tuple[str, Quarter], FigureRecord]
        owners: list[Owner]
        returns: dict[Quarter, ReturnRecord]  # each quarter's return as it stands
        return_history: dict[Quarter, list[ReturnRecord]]  # and as each action left it, oldest first

    # -- queries --------------------------------------------------------------------

    @property
    def owner(self) -> Owner | None:
        return self.owners[-1] if self.owners else None

    def return_state(self, quarter: Quarter) -> ReturnState:
        record = self.returns.get(quarter)
        return record.state if record else ReturnState.OUTSTANDING

    def missing_figures(self, quarter: Quarter) -> list[str]:
        """Components of the definition in force with neither a figure nor an unavailable mark for `quarter`."""
        return [c.key for c in self.definition.components if (c.key, quarter) not in self.figures]

    def check_unlocked(self, quarter: Quarter) -> None:
        """Refuse a change to `quarter` while its return is submitted or approved, saying how to unlock it."""
        record = self.returns.get(quarter)
        if record is None or record.state not in LOCKING:
            return
        q = quarter.value
        done = f"by {record.stamp.by} at {record.stamp.at:%Y-%m-%d %H:%M} UTC"
        if record.state is ReturnState.APPROVED:
            how = f"its return was approved {done}; an approver may reopen it with reopenReturn, giving a reason"
        else:
            how = (
                f"its return was submitted {done} and awaits approval; "
                "an approver may send it back with sendBackReturn, giving a reason"
            )
        raise LockedError("quarter", f"{self.number} {q} is locked: {how}", q, record.state.value)

    # -- commands -------------------------------------------------------------------

    def assign_owner(self, principal: object, agency: object, *, reason: object = None, actor: str) -> None:
        """Name who reports this measure and for which partner agency; a change of owner needs a reason."""
        who = required_text(principal, "principal", limit=MAX_LABEL)
        where = required_text(agency, "agency", limit=MAX_LABEL)
        current = self.owner
        if current is not None and (current.principal, current.agency) == (who, where):
            raise ValidationError("principal", f"{who} already owns {self.number} for {where}", who)
        why = text(reason, "reason") if current is None else required_text(reason, "reason")
        self.trigger_event(self.OwnerAssigned, principal=who, agency=where, actor=actor, reason=why)

    def submit_return(self, quarter: Quarter, *, actor: str) -> None:
        """The quarter's figures, as they stand, given in; components still missing are recorded with it."""
        state = self.return_state(quarter)
        if state is ReturnState.SUBMITTED:
            record = self.returns[quarter]
            raise ValidationError(
                "quarter",
                f"{self.number} {quarter.value} was already submitted by {record.submitted.by} and awaits approval",
                quarter.value,
            )
        if state is ReturnState.APPROVED:
            self.check_unlocked(quarter)
        missing = self.missing_figures(quarter)
        self.trigger_event(self.ReturnSubmitted, quarter=quarter.value, missing=missing, actor=actor)

    def approve_return(self, quarter: Quarter, *, actor: str) -> None:
        """Sign a submitted return off; whoever submitted it may not, whatever their roles."""
        record = self._awaiting_approval(quarter, "approved")
        if record.submitted.by.casefold() == actor.casefold():  # one principal, however its name is cased
            raise ForbiddenError(
                "quarter",
                f"{actor} submitted {self.number} {quarter.value} and may not also approve it: another approver must",
                quarter.value,
            )
        self.trigger_event(self.ReturnApproved, quarter=quarter.value, actor=actor)

    def send_back_return(self, quarter: Quarter, *, reason: object, actor: str) -> None:
        """Return a submitted return to its owner for changes, saying what to change."""
        why = required_text(reason, "reason")
        self._awaiting_approval(quarter, "sent back")
        self.trigger_event(self.ReturnSentBack, quarter=quarter.value, actor=actor, reason=why)

    def reopen_return(self, quarter: Quarter, *, reason: object, actor: str) -> None:
        """Unlock an approved quarter for changes, saying why; it is then submitted and approved again."""
        why = required_text(reason, "reason")
        if self.return_state(quarter) is not ReturnState.APPROVED:
            state = self.return_state(quarter).value
            raise ValidationError(
                "quarter",
                f"{self.number} {quarter.value} is {state}, not APPROVED: only an approved return is reopened",
                quarter.value,
            )
        self.trigger_event(self.ReturnReopened, quarter=quarter.value, actor=actor, reason=why)

    def _awaiting_approval(self, quarter: Quarter, done: str) -> ReturnRecord:
        record = self.returns.get(quarter)
        if record is None or record.state is not ReturnState.SUBMITTED:
            state = record.state.value if record else ReturnState.OUTSTANDING.value
            never = " (it was never submitted)" if record is None else ""
            raise ValidationError(
                "quarter",
                f"{self.number} {quarter.value} is {state}{never}: only a submitted return can be {done}",
                quarter.value,
            )
        return record
