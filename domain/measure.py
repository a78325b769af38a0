"""The Measure aggregate: a numbered target, its components, baselines and figures.

Public methods check their input and name the field at fault; the events'
`apply` methods only assign state, because they run again on every replay.
A second `submit_figure` for the same component and quarter is refused in
favour of `revise_figure`, so a correction always carries its reason — except
after `mark_figure_unavailable`, when the figure arriving late is a submission.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from domain.definition import Definition, definition_fields, definition_of
from domain.entries import baseline_fields, figure_fields
from domain.errors import NotFoundError, ValidationError
from domain.overrides import MeasureOverrides
from domain.records import (
    BaselineRecord,
    FigureRecord,
    Override,
    SharesRecords,
    Stamp,
    amount_of,
    baseline_record,
    figure_record,
    stamp_of,
)
from domain.returns import MeasureCycle
from domain.revisions import revised_figure_fields
from domain.values import QUARTER_OF, Amount, Quarter, parse_component_key, required_text, text


class Measure(SharesRecords, MeasureOverrides, MeasureCycle, Aggregate):
    """Identified by plan and number, so a number cannot be defined twice in a plan."""

    class MeasureDefined(Aggregate.Created):
        plan_id: UUID
        theme_code: str
        number: str
        title: str
        description: str | None
        direction: str
        basis: str
        tolerance: Decimal
        unit: str | None
        components: list[dict[str, str]]
        discrepancy_threshold: Decimal
        actor: str

        def apply(self, aggregate: Any) -> None:
            m: Measure = aggregate
            m.plan_id = self.plan_id
            m.theme_code = self.theme_code
            m.number = self.number
            m.discrepancy_threshold = self.discrepancy_threshold
            m.definition = definition_of(self)
            m.definitions = [(m.definition, stamp_of(self))]
            m.baselines = {}
            m.figures = {}
            m.figure_history = {}
            m.commentary = {}
            m.overrides = {}
            m.owners = []
            m.returns = {}
            m.return_history = {}

    class MeasureRedefined(Aggregate.Event):
        title: str
        description: str | None
        direction: str
        basis: str
        tolerance: Decimal
        unit: str | None
        components: list[dict[str, str]]
        actor: str
        reason: str

        def apply(self, aggregate: Any) -> None:
            aggregate.definition = definition_of(self)
            aggregate.definitions.append((aggregate.definition, stamp_of(self, self.reason)))

    class BaselineSet(Aggregate.Event):
        component: str
        value: Decimal | None
        numerator: Decimal | None
        denominator: Decimal | None
        period: str | None
        profile: list[Decimal] | None
        note: str | None
        actor: str

        def apply(self, aggregate: Any) -> None:
            aggregate._add_baseline(self, is_reset=False, reason=None)

    class BaselineReset(BaselineSet):
        reason: str

        def apply(self, aggregate: Any) -> None:
            aggregate._add_baseline(self, is_reset=True, reason=self.reason)

    class FigureSubmitted(Aggregate.Event):
        component: str
        quarter: str
        value: Decimal | None
        numerator: Decimal | None
        denominator: Decimal | None
        reported_change: Decimal | None
        commentary: str | None
        actor: str

        def apply(self, aggregate: Any) -> None:
            aggregate._put_figure(self, amount_of(self), None, None)

    class FigureRevised(FigureSubmitted):
        reason: str

        def apply(self, aggregate: Any) -> None:
            aggregate._put_figure(self, amount_of(self), None, self.reason)

    class FigureMarkedUnavailable(Aggregate.Event):
        component: str
        quarter: str
        reason: str
        actor: str

        def apply(self, aggregate: Any) -> None:
            aggregate._put_figure(self, None, self.reason, self.reason)

    class CommentaryUpdated(Aggregate.Event):
        quarter: str
        text: str | None
        actor: str

        def apply(self, aggregate: Any) -> None:
            aggregate.commentary[QUARTER_OF[self.quarter]] = (self.text, stamp_of(self))

    # The status overrides' events (domain/overrides.py) and the reporting cycle's (domain/returns.py),
    # named here so that their topics are the Measure's.
    StatusOverridden = MeasureOverrides.StatusOverridden
    StatusOverrideCleared = MeasureOverrides.StatusOverrideCleared
    OwnerAssigned = MeasureCycle.OwnerAssigned
    ReturnSubmitted = MeasureCycle.ReturnSubmitted
    ReturnApproved = MeasureCycle.ReturnApproved
    ReturnSentBack = MeasureCycle.ReturnSentBack
    ReturnReopened = MeasureCycle.ReturnReopened

    if TYPE_CHECKING:  # state, assigned by the events' apply methods
        plan_id: UUID
        theme_code: str
        number: str
        discrepancy_threshold: Decimal
        definition: Definition
        definitions: list[tuple[Definition, Stamp]]
        baselines: dict[str, list[BaselineRecord]]
        figures: dict[tuple[str, Quarter], FigureRecord]
        figure_history: dict[tuple[str, Quarter], list[FigureRecord]]
        commentary: dict[Quarter, tuple[str | None, Stamp]]
        overrides: dict[Quarter, Override]

    @staticmethod
    def create_id(plan_id: UUID, number: str) -> UUID:
        return uuid5(plan_id, number.strip())

    # -- state changes, replayed ------------------------------------------------

    def _add_baseline(self, event: Any, *, is_reset: bool, reason: str | None) -> None:
        self.baselines.setdefault(event.component, []).append(baseline_record(event, is_reset, reason))

    def _put_figure(self, event: Any, amount: Amount | None, unavailable: str | None, reason: str | None) -> None:
        key = (event.component, QUARTER_OF[event.quarter])
        history = self.figure_history.setdefault(key, [])
        record = figure_record(event, amount, unavailable, reason, self.figures.get(key), len(history) + 1)
        history.append(record)
        self.figures[key] = record

    # -- commands ---------------------------------------------------------------

    @classmethod
    def define(
        cls,
        *,
        plan_id: UUID,
        theme_code: str,
        number: object,
        definition: Definition,
        discrepancy_threshold: Decimal,
        actor: str,
    ) -> Measure:
        """Check and record a new measure."""
        return cls._create(
            cls.MeasureDefined,
            plan_id=plan_id,
            theme_code=theme_code,
            number=required_text(number, "number", limit=40),
            discrepancy_threshold=discrepancy_threshold,
            actor=actor,
            **definition_fields(definition),
        )

    def redefine(self, definition: Definition, *, reason: object, actor: str) -> None:
        """Replace the definition; the earlier one stays in the history."""
        self.trigger_event(
            self.MeasureRedefined, actor=actor, reason=required_text(reason, "reason"), **definition_fields(definition)
        )

    def set_baseline(
        self,
        component: object,
        amount: Amount,
        *,
        period: object = None,
        profile: Sequence[object] | None = None,
        note: object = None,
        actor: str,
    ) -> None:
        """Record a component's first baseline; a later one is a reset, with a reason."""
        key = self._component(component)
        if self.baselines.get(key):
            raise ValidationError("component", f"{key!r} already has a baseline; use resetBaseline with a reason", key)
        self.trigger_event(
            self.BaselineSet, **baseline_fields(self.definition, key, amount, period, profile, note), actor=actor
        )

    def reset_baseline(
        self,
        component: object,
        amount: Amount,
        *,
        reason: object,
        period: object = None,
        profile: Sequence[object] | None = None,
        note: object = None,
        actor: str,
    ) -> None:
        """Supersede a component's baseline; every quarter is recomputed against the new one."""
        key = self._component(component)
        why = required_text(reason, "reason")
        self.trigger_event(
            self.BaselineReset,
            **baseline_fields(self.definition, key, amount, period, profile, note),
            actor=actor,
            reason=why,
        )

    def submit_figure(
        self,
        component: object,
        quarter: Quarter,
        amount: Amount,
        *,
        reported_change: object = None,
        commentary: object = None,
        actor: str,
    ) -> None:
        """Record a component's figure for a quarter for the first time."""
        key = self._component(component)
        self.check_unlocked(quarter)
        existing = self.figures.get((key, quarter))
        if existing is not None and existing.available:
            raise ValidationError(
                "quarter",
                f"{key!r} already has a {quarter.value} figure; use reviseFigure with a reason",
                quarter.value,
            )
        self.trigger_event(
            self.FigureSubmitted,
            **figure_fields(self.definition, key, quarter, amount, reported_change, commentary),
            actor=actor,
        )

    def revise_figure(
        self,
        component: object,
        quarter: Quarter,
        amount: Amount | None,
        *,
        reason: object,
        reported_change: object = None,
        commentary: object = None,
        clear: Sequence[object] = (),
        unchanged_allowed: bool = False,
        actor: str,
    ) -> None:
        """Correct a recorded figure, saying why: only the fields given change, and those named in `clear` go.

        `amount`'s parts left None keep their value. A revision that changes nothing is refused
        (NoChangeError), so every new entry of the figure's history changes something; `unchanged_allowed`
        is for history recorded before that rule, brought back from a plan file as it stands.
        """
        key = self._component(component)
        self.check_unlocked(quarter)
        why = required_text(reason, "reason")
        previous = self.figures.get((key, quarter))
        if previous is None:
            raise NotFoundError(
                "quarter", f"{key!r} has no {quarter.value} figure to revise; submit it first", quarter.value
            )
        self.trigger_event(
            self.FigureRevised,
            **revised_figure_fields(
                self.definition, key, quarter, previous, amount, reported_change, commentary, clear, unchanged_allowed
            ),
            actor=actor,
            reason=why,
        )

    def mark_figure_unavailable(self, component: object, quarter: Quarter, *, reason: object, actor: str) -> None:
        """Say a quarter's figure could not be had, and why."""
        key = self._component(component)
        self.check_unlocked(quarter)
        self.trigger_event(
            self.FigureMarkedUnavailable,
            component=key,
            quarter=quarter.value,
            reason=required_text(reason, "reason"),
            actor=actor,
        )

    def update_commentary(self, quarter: Quarter, commentary: object, *, actor: str) -> None:
        """Replace the officer's narrative for a quarter."""
        self.check_unlocked(quarter)
        self.trigger_event(self.CommentaryUpdated, quarter=quarter.value, text=text(commentary, "text"), actor=actor)

    # -- queries ------------------------------------------------------------------

    def baseline(self, component: str) -> BaselineRecord | None:
        records = self.baselines.get(component)
        return records[-1] if records else None

    def _component(self, raw: object) -> str:
        key = parse_component_key(raw)
        if key not in {c.key for c in self.definition.components}:
            known = ", ".join(c.key for c in self.definition.components)
            raise NotFoundError("component", f"measure {self.number} has no component {key!r} (it has {known})", key)
        return key
