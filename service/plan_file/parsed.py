"""The parsed plan file: what `load_plan_file` returns and `import_plan` records.

Also the wording of an override made from a published status, which the
plan export (service/plan_export.py) inverts so that an exported file imports back to the same override.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from uuid import UUID

from domain.definition import Definition
from domain.measure import Measure
from domain.plan import Plan
from domain.values import Quarter, Status
from service.plan_file.cycle import QuarterCycle
from service.plan_file.lines import Where
from service.plan_file.steps import Step

FORMAT = "measure-ledger/plan@1"


@dataclass(frozen=True)
class ThemeSpec:
    """A theme of the plan, and where the file gives it."""

    code: str
    title: str
    where: Where


@dataclass(frozen=True)
class StatusSpec:
    """A published status: recorded as an override only where it differs from the computed one."""

    quarter: Quarter
    status: Status
    published_symbol: str | None
    reason: str | None
    where: Where

    def override_reason(self, computed: Status) -> str:
        """Both verdicts in the reason, so an auditor reading the override sees each."""
        return override_reason(self.reason or published_reason(self.published_symbol), self.status, computed)


@dataclass(frozen=True)
class MeasureSpec:
    """A measure as the file gives it: its first definition, then its steps in the order they are recorded."""

    number: str
    theme_code: str
    definition: Definition
    steps: tuple[Step, ...]
    statuses: tuple[StatusSpec, ...]
    expected: Measure  # the measure as the file describes it, built in memory
    where: Where


@dataclass(frozen=True)
class PlanFile:
    """A whole plan file, checked: what `import_plan` records."""

    path: str
    plan: Plan  # the plan as the file describes it, built in memory
    where: Where
    themes: tuple[ThemeSpec, ...]
    measures: tuple[MeasureSpec, ...]
    cycle: tuple[QuarterCycle, ...] = ()  # collections and publications, by quarter

    @property
    def plan_id(self) -> UUID:
        """The id the plan is recorded under (the same for every import of the same plan)."""
        return self.plan.id


def published_reason(symbol: str | None) -> str:
    """The reason of an override made from a published status the file gives no reason for."""
    return f"Published status in the report: {symbol}" if symbol else "Published status in the report"


def override_reason(base: str, status: Status, computed: Status) -> str:
    """The reason recorded with an override from a published status: the file's reason and both statuses."""
    return f"{base} ({status.value}); computed {computed.value}"


_OVERRIDE_SUFFIX = re.compile(r" \((?P<status>[A-Z_]+)\); computed [A-Z_]+$")


def file_reason(recorded: str | None, status: Status) -> str | None:
    """The reason a plan file gives for an override recorded with `override_reason` (its inverse)."""
    if recorded is None:
        return None
    found = _OVERRIDE_SUFFIX.search(recorded)
    if found and found["status"] == status.value:
        return recorded[: found.start()]
    return recorded
