"""What a measure holds of each recorded change: baselines, figures and overrides, each with its stamp.

Records are frozen: an event adds a record and never changes one, so a measure's
history is its list of records, and a copy of a measure may share them (`SharesRecords`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cached_property
from typing import Any, Self

from domain.rules import Baseline as RuleBaseline
from domain.values import Amount, Status


@dataclass(frozen=True)
class Stamp:
    """Who recorded something, when, and why."""

    at: datetime
    by: str
    reason: str | None = None


@dataclass(frozen=True)
class BaselineRecord:
    amount: Amount
    period: str | None
    profile: tuple[Decimal, ...] | None
    note: str | None
    is_reset: bool
    stamp: Stamp

    @cached_property
    def as_rule(self) -> RuleBaseline:
        # Made once per record (records never change): every figure of the component is assessed against it.
        return RuleBaseline(self.amount, self.profile)


@dataclass(frozen=True)
class FigureRecord:
    amount: Amount | None
    reported_change: Decimal | None
    commentary: str | None
    unavailable_reason: str | None
    revision: int
    stamp: Stamp

    @property
    def available(self) -> bool:
        return self.amount is not None


@dataclass(frozen=True)
class Override:
    status: Status
    stamp: Stamp


# A frozen record made in one step: `object.__new__` and its fields' dict set at once, the same object as
# `cls(**fields)` given every one of its fields. A frozen dataclass's constructor sets each field in turn through
# object.__setattr__, several times the cost of the rest, and applying a figure event makes three records. Written
# out in each maker rather than through a helper, whose call would cost about as much again. Only for records without
# a __post_init__, given all their fields (tests/unit/test_rebuild_speedups.py holds these to their constructors).
_new = object.__new__
_set = object.__setattr__


def amount_of(event: Any) -> Amount:
    """The amount an event recorded as its `value`, `numerator` and `denominator`."""
    amount: Amount = _new(Amount)
    _set(amount, "__dict__", {"value": event.value, "numerator": event.numerator, "denominator": event.denominator})
    return amount


def stamp_of(event: Any, reason: str | None = None) -> Stamp:
    """Who recorded an event and when (the library's timestamp), with the reason given."""
    stamp: Stamp = _new(Stamp)
    _set(stamp, "__dict__", {"at": event.timestamp, "by": event.actor, "reason": reason})
    return stamp


def baseline_record(event: Any, is_reset: bool, reason: str | None) -> BaselineRecord:
    """The baseline a BaselineSet or BaselineReset event records."""
    return BaselineRecord(
        amount=amount_of(event),
        period=event.period,
        profile=tuple(event.profile) if event.profile else None,
        note=event.note,
        is_reset=is_reset,
        stamp=stamp_of(event, reason),
    )


def figure_record(
    event: Any,
    amount: Amount | None,
    unavailable: str | None,
    reason: str | None,
    previous: FigureRecord | None,
    revision: int,
) -> FigureRecord:
    """The figure a submission, revision or unavailable mark records, as the slot's `revision`th."""
    if amount is None and previous is not None:
        # Marking unavailable keeps the officer's commentary with the slot.
        commentary = previous.commentary
    else:
        commentary = getattr(event, "commentary", None)
    record: FigureRecord = _new(FigureRecord)
    fields = {
        "amount": amount,
        "reported_change": getattr(event, "reported_change", None),
        "commentary": commentary,
        "unavailable_reason": unavailable,
        "revision": revision,
        "stamp": stamp_of(event, reason),
    }
    _set(record, "__dict__", fields)
    return record


class SharesRecords:
    """An aggregate whose copies share its frozen records and have containers of their own.

    The aggregate cache hands every command a deep copy of the cached aggregate, so
    that a command that fails, or runs at the same moment in another thread, cannot
    change the cached one. Copying the containers one level down is as safe as copying
    every record, since nothing inside them is ever mutated, only replaced; and a
    measure with years of revisions holds many records.
    """

    def __deepcopy__(self, memo: dict[int, Any]) -> Self:
        copied = object.__new__(type(self))
        memo[id(self)] = copied
        state = copied.__dict__
        for name, value in self.__dict__.items():
            if isinstance(value, dict):
                state[name] = {k: list(v) if isinstance(v, list) else v for k, v in value.items()}
            elif isinstance(value, list):
                state[name] = list(value)
            else:
                state[name] = value  # immutable: ids, numbers, text, times, Decimals, frozen records
        return copied
