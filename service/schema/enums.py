"""The contract's enums, straight from the domain's, each value described here (the domain knows no GraphQL)."""

from __future__ import annotations

import enum
from typing import Any, TypeVar

import strawberry

from domain import returns, values

E = TypeVar("E", bound=enum.Enum)


def described(kind: type[E], description: str, each: dict[str, str], name: str | None = None) -> type[E]:
    """`kind` as a GraphQL enum, with a description of the type and of each of its values."""
    graphql_enum = strawberry.enum(kind, name=name, description=description)
    definition = graphql_enum.__strawberry_definition__  # type: ignore[attr-defined]
    assert {v.name for v in definition.values} == each.keys(), f"describe every value of {kind.__name__}"
    for value in definition.values:
        value.description = each[value.name]
    return graphql_enum


Quarter = described(
    values.Quarter,
    "A quarter of the plan's year, counted from the plan's period start (1 April in the 2012-13 plan).",
    {
        "Q1": "The first three months: April to June for a year from 1 April.",
        "Q2": "Months four to six: July to September.",
        "Q3": "Months seven to nine: October to December.",
        "Q4": "The last three months: January to March.",
    },
)
Direction = described(
    values.Direction,
    "Which way a measure aims: how its change is judged (docs/rules.md, Status).",
    {
        "REDUCE": "Lower is better: a change of -tolerance or less is ON_TRACK, +tolerance or more OFF_TRACK.",
        "INCREASE": "Higher is better: +tolerance or more is ON_TRACK, -tolerance or less OFF_TRACK.",
        "MAINTAIN": "Stay at or below the baseline: a change of 0 or less is ON_TRACK, +tolerance or more OFF_TRACK.",
        "MONITOR": "No target: always NOT_ASSESSED; its basis is NONE.",
    },
)
Basis = described(
    values.Basis,
    "How a quarter's figure is compared with the baseline: what the comparison value is, and the change's unit.",
    {
        "YTD_PRO_RATA": "The figure is a year-to-date count, held against the baseline's share of the year so far "
        "(baseline × quarter / 4, or its profile's sum); change in percent.",
        "ROLLING_12_MONTHS": "The figure is a rolling twelve-month count, held against the whole baseline every "
        "quarter; change in percent.",
        "RATE": "The figure and the baseline are rates in percent (or fractions): change in percentage points.",
        "TARGET_COUNT": "The baseline is a count to reach within the year; the figure is held against target × "
        "quarter / 4; change in percent.",
        "NONE": "Nothing is compared: no comparison value, no change, NOT_ASSESSED. MONITOR measures only.",
    },
)
Status = described(
    values.Status,
    "The verdict for a component, a quarter or a measure (docs/rules.md, Status).",
    {
        "ON_TRACK": "Within the target.",
        "AT_RISK": "Within the tolerance of missing the target.",
        "OFF_TRACK": "Missing the target by the tolerance or more.",
        "NO_DATA": "No figure, or the figure was marked unavailable.",
        "NOT_ASSESSED": "Nothing to judge against: no target (MONITOR), no baseline, or a zero comparison value.",
    },
)
ReturnState = described(
    returns.ReturnState,
    "Where a measure's return for a quarter stands.",
    {
        "OUTSTANDING": "Not given in yet.",
        "SUBMITTED": "Given in for approval: the quarter's figures are locked (LOCKED) until sent back.",
        "APPROVED": "Signed off: locked until an approver reopens it.",
        "SENT_BACK": "Returned to its owner to change, with a reason; open to changes.",
        "REOPENED": "Unlocked after approval for a correction, with a reason; open to changes.",
    },
)
# Enum(value) looks a member up the slow way, and a dashboard converts several hundred columns.
_MEMBERS: dict[type[enum.Enum], dict[Any, enum.Enum]] = {}


def member(kind: type[E], value: Any) -> E:
    """The member of `kind` whose value a read-model column holds."""
    members = _MEMBERS.get(kind)
    if members is None:
        members = _MEMBERS[kind] = {m.value: m for m in kind}
    found = members.get(value)
    return found if found is not None else kind(value)  # type: ignore[return-value]
