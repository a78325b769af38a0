"""The Plan aggregate: a partnership's reporting year and its themes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

from domain.errors import ValidationError
from domain.publishing import PlanCycle
from domain.values import MAX_LABEL, required_text

PLAN_NAMESPACE = uuid5(NAMESPACE_URL, "https://measure-ledger.org/plan")


@dataclass(frozen=True)
class Theme:
    code: str
    title: str


class Plan(PlanCycle, Aggregate):
    """A plan is identified by its partnership and title, so it cannot be created twice."""

    class PlanCreated(Aggregate.Created):
        partnership: str
        title: str
        year: str
        period_start: str
        period_end: str
        discrepancy_threshold: Decimal
        actor: str

        def apply(self, aggregate: Any) -> None:
            plan: Plan = aggregate
            plan.partnership = self.partnership
            plan.title = self.title
            plan.year = self.year
            plan.period_start = date.fromisoformat(self.period_start)
            plan.period_end = date.fromisoformat(self.period_end)
            plan.discrepancy_threshold = self.discrepancy_threshold
            plan.themes = []
            plan.created_by = self.actor
            plan.collections = {}
            plan.publications = []

    class ThemeAdded(Aggregate.Event):
        code: str
        title: str
        actor: str

        def apply(self, aggregate: Any) -> None:
            aggregate.themes.append(Theme(self.code, self.title))

    # The reporting cycle's events (domain/publishing.py), named here so that their topics are the Plan's.
    CollectionOpened = PlanCycle.CollectionOpened
    CollectionDueDateChanged = PlanCycle.CollectionDueDateChanged
    QuarterPublished = PlanCycle.QuarterPublished

    if TYPE_CHECKING:  # state, assigned by the events' apply methods
        partnership: str
        title: str
        year: str
        period_start: date
        period_end: date
        discrepancy_threshold: Decimal
        themes: list[Theme]
        created_by: str

    @staticmethod
    def create_id(partnership: str, title: str) -> UUID:
        return uuid5(PLAN_NAMESPACE, f"{partnership.casefold()}\n{title.casefold()}")

    @classmethod
    def create(
        cls,
        *,
        partnership: object,
        title: object,
        year: object,
        period_start: date,
        period_end: date,
        discrepancy_threshold: Decimal,
        actor: str,
    ) -> Plan:
        """Check and record a new plan."""
        if period_end <= period_start:
            raise ValidationError(
                "period.end",
                f"{period_end} is not after {period_start}",
                str(period_end),
            )
        if discrepancy_threshold <= 0:
            raise ValidationError(
                "discrepancyThreshold",
                f"must be greater than zero, not {discrepancy_threshold}",
            )
        return cls._create(
            cls.PlanCreated,
            partnership=required_text(partnership, "partnership", limit=MAX_LABEL),
            title=required_text(title, "title", limit=MAX_LABEL),
            year=required_text(year, "year", limit=40),
            period_start=period_start.isoformat(),
            period_end=period_end.isoformat(),
            discrepancy_threshold=discrepancy_threshold,
            actor=actor,
        )

    def theme(self, code: str) -> Theme | None:
        return next((t for t in self.themes if t.code == code), None)

    def add_theme(self, *, code: object, title: object, actor: str) -> None:
        """Add a numbered group of measures; codes are unique within the plan."""
        theme_code = required_text(code, "code", limit=40)
        if self.theme(theme_code):
            raise ValidationError("code", f"theme {theme_code!r} already exists in this plan", theme_code)
        self.trigger_event(
            self.ThemeAdded,
            code=theme_code,
            title=required_text(title, "title", limit=MAX_LABEL),
            actor=actor,
        )
