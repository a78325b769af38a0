"""The Measure aggregate: a numbered target, its components, baselines and figures.

Public methods check their input and name the field at fault; the events'
`apply` methods only assign state, because they run again on every replay.
A second `submit_figure` for the same component and quarter is refused in
favour of `revise_figure`, so a correction always carries its reason — except
after `mark_figure_unavailable`, when the figure arriving late is a submission.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cached_property
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from domain.errors import NotFoundError, ValidationError
from domain.rules import Baseline as RuleBaseline
from domain.values import (
    MAX_LABEL,
    QUARTER_OF,
    Amount,
    Basis,
    Direction,
    Quarter,
    Status,
    optional_decimal,
    parse_component_key,
    required_text,
    text,
)


@dataclass(frozen=True)
class Component:
    key: str
    label: str


@dataclass(frozen=True)
class Definition:
    title: str
    description: str | None
    direction: Direction
    basis: Basis
    tolerance: Decimal
    unit: str | None
    components: tuple[Component, ...]


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


def _amount(event: Any) -> Amount:
    return Amount(event.value, event.numerator, event.denominator)


def _definition(event: Any) -> Definition:
    return Definition(
        title=event.title,
        description=event.description,
        direction=Direction(event.direction),
        basis=Basis(event.basis),
        tolerance=event.tolerance,
        unit=event.unit,
        components=tuple(Component(c["key"], c["label"]) for c in event.components),
    )


def _stamp(event: Any, reason: str | None = None) -> Stamp:
    return Stamp(event.timestamp, event.actor, reason)


class Measure(Aggregate):
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
            m.definition = _definition(self)
            m.definitions = [(m.definition, _stamp(self))]
            m.baselines = {}
            m.figures = {}
            m.figure_history = {}
            m.commentary = {}
            m.overrides = {}

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
            aggregate.definition = _definition(self)
            aggregate.definitions.append((aggregate.definition, _stamp(self, self.reason)))

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
            aggregate._put_figure(self, _amount(self), None, None)

    class FigureRevised(FigureSubmitted):
        reason: str

        def apply(self, aggregate: Any) -> None:
            aggregate._put_figure(self, _amount(self), None, self.reason)

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
            aggregate.commentary[QUARTER_OF[self.quarter]] = (self.text, _stamp(self))

    class StatusOverridden(Aggregate.Event):
        quarter: str
        status: str
        actor: str
        reason: str

        def apply(self, aggregate: Any) -> None:
            stamp = _stamp(self, self.reason)
            aggregate.overrides[QUARTER_OF[self.quarter]] = Override(Status(self.status), stamp)

    class StatusOverrideCleared(Aggregate.Event):
        quarter: str
        actor: str
        reason: str

        def apply(self, aggregate: Any) -> None:
            aggregate.overrides.pop(QUARTER_OF[self.quarter], None)

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
        record = BaselineRecord(
            amount=_amount(event),
            period=event.period,
            profile=tuple(event.profile) if event.profile else None,
            note=event.note,
            is_reset=is_reset,
            stamp=_stamp(event, reason),
        )
        self.baselines.setdefault(event.component, []).append(record)

    def _put_figure(
        self,
        event: Any,
        amount: Amount | None,
        unavailable: str | None,
        reason: str | None,
    ) -> None:
        key = (event.component, QUARTER_OF[event.quarter])
        history = self.figure_history.setdefault(key, [])
        previous = self.figures.get(key)
        if amount is None and previous is not None:
            # Marking unavailable keeps the officer's commentary with the slot.
            commentary = previous.commentary
        else:
            commentary = getattr(event, "commentary", None)
        record = FigureRecord(
            amount=amount,
            reported_change=getattr(event, "reported_change", None),
            commentary=commentary,
            unavailable_reason=unavailable,
            revision=len(history) + 1,
            stamp=_stamp(event, reason),
        )
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
            **_definition_fields(definition),
        )

    def redefine(self, definition: Definition, *, reason: object, actor: str) -> None:
        """Replace the definition; the earlier one stays in the history."""
        self.trigger_event(
            self.MeasureRedefined,
            actor=actor,
            reason=required_text(reason, "reason"),
            **_definition_fields(definition),
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
            raise ValidationError(
                "component",
                f"{key!r} already has a baseline; use resetBaseline with a reason",
                key,
            )
        self.trigger_event(
            self.BaselineSet,
            **self._baseline_fields(key, amount, period, profile, note),
            actor=actor,
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
            **self._baseline_fields(key, amount, period, profile, note),
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
        existing = self.figures.get((key, quarter))
        if existing is not None and existing.available:
            raise ValidationError(
                "quarter",
                f"{key!r} already has a {quarter.value} figure; use reviseFigure with a reason",
                quarter.value,
            )
        self.trigger_event(
            self.FigureSubmitted,
            **self._figure_fields(key, quarter, amount, reported_change, commentary),
            actor=actor,
        )

    def revise_figure(
        self,
        component: object,
        quarter: Quarter,
        amount: Amount,
        *,
        reason: object,
        reported_change: object = None,
        commentary: object = None,
        actor: str,
    ) -> None:
        """Correct a submitted figure, saying why."""
        key = self._component(component)
        why = required_text(reason, "reason")
        if (key, quarter) not in self.figures:
            raise NotFoundError(
                "quarter",
                f"{key!r} has no {quarter.value} figure to revise; submit it first",
                quarter.value,
            )
        self.trigger_event(
            self.FigureRevised,
            **self._figure_fields(key, quarter, amount, reported_change, commentary),
            actor=actor,
            reason=why,
        )

    def mark_figure_unavailable(self, component: object, quarter: Quarter, *, reason: object, actor: str) -> None:
        """Say a quarter's figure could not be had, and why."""
        key = self._component(component)
        self.trigger_event(
            self.FigureMarkedUnavailable,
            component=key,
            quarter=quarter.value,
            reason=required_text(reason, "reason"),
            actor=actor,
        )

    def update_commentary(self, quarter: Quarter, commentary: object, *, actor: str) -> None:
        """Replace the officer's narrative for a quarter."""
        self.trigger_event(
            self.CommentaryUpdated,
            quarter=quarter.value,
            text=text(commentary, "text"),
            actor=actor,
        )

    def override_status(self, quarter: Quarter, status: Status, *, reason: object, actor: str) -> None:
        """Set an officer's verdict over the computed one; both stay visible."""
        why = required_text(reason, "reason")
        self.trigger_event(
            self.StatusOverridden,
            quarter=quarter.value,
            status=status.value,
            reason=why,
            actor=actor,
        )

    def clear_status_override(self, quarter: Quarter, *, reason: object, actor: str) -> None:
        """Return a quarter to its computed status."""
        why = required_text(reason, "reason")
        if quarter not in self.overrides:
            raise NotFoundError(
                "quarter",
                f"{quarter.value} has no status override to clear",
                quarter.value,
            )
        self.trigger_event(self.StatusOverrideCleared, quarter=quarter.value, reason=why, actor=actor)

    # -- copying ------------------------------------------------------------------

    def __deepcopy__(self, memo: dict[int, Any]) -> Measure:
        """A copy with containers of its own, sharing the immutable records inside them.

        The aggregate cache gives every command a deep copy of the cached measure, so that a
        command that fails, or runs at the same moment in another thread, cannot change the
        cached one. Copying every frozen record (a measure with a year of revisions) took about
        2.6 ms, half of a write's CPU in the service; copying the containers one level down is
        equally safe, since nothing inside them is ever mutated, only replaced.
        """
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

    # -- queries ------------------------------------------------------------------

    def baseline(self, component: str) -> BaselineRecord | None:
        records = self.baselines.get(component)
        return records[-1] if records else None

    def _component(self, raw: object) -> str:
        key = parse_component_key(raw)
        if key not in {c.key for c in self.definition.components}:
            known = ", ".join(c.key for c in self.definition.components)
            raise NotFoundError(
                "component",
                f"measure {self.number} has no component {key!r} (it has {known})",
                key,
            )
        return key

    def _check_amount(self, amount: Amount, field: str) -> None:
        if self.definition.basis is not Basis.RATE and amount.value is None and not amount.is_fraction:
            raise ValidationError(field, "is required", None)
        if self.definition.basis is Basis.RATE and amount.value is not None and not amount.is_fraction:
            if amount.value > 100:
                raise ValidationError(
                    "value",
                    f"a rate cannot exceed 100%, not {amount.value}",
                    amount.value,
                )

    def _baseline_fields(
        self,
        key: str,
        amount: Amount,
        period: object,
        profile: Sequence[object] | None,
        note: object,
    ) -> dict[str, Any]:
        self._check_amount(amount, "value")
        quarters: list[Decimal] | None = None
        if profile:
            if len(profile) != 4:
                raise ValidationError("profile", f"needs 4 quarterly values, not {len(profile)}", None)
            quarters = []
            for i, raw in enumerate(profile):
                q = optional_decimal(raw, f"profile[{i}]")
                if q is None or q < 0:
                    raise ValidationError(
                        f"profile[{i}]",
                        f"must be a non-negative number, not {raw!r}",
                        raw,
                    )
                quarters.append(q)
        return {
            "component": key,
            **amount.as_dict(),
            "period": text(period, "period", limit=MAX_LABEL),
            "profile": quarters,
            "note": text(note, "note"),
        }

    def _figure_fields(
        self,
        key: str,
        quarter: Quarter,
        amount: Amount,
        reported_change: object,
        commentary: object,
    ) -> dict[str, Any]:
        self._check_amount(amount, "value")
        return {
            "component": key,
            "quarter": quarter.value,
            **amount.as_dict(),
            "reported_change": optional_decimal(reported_change, "reportedChange"),
            "commentary": text(commentary, "commentary"),
        }


def parse_definition(
    *,
    title: object,
    description: object,
    direction: Direction,
    basis: Basis,
    tolerance: object,
    unit: object,
    components: list[tuple[object, object]],
) -> Definition:
    """Check a measure definition: a target needs a basis, components need unique keys."""
    tol = optional_decimal(tolerance, "tolerance")
    if tol is None:
        tol = Decimal(5)
    if tol < 0 or tol > 100:
        raise ValidationError("tolerance", f"must be between 0 and 100, not {tol}", tol)
    if direction is Direction.MONITOR and basis is not Basis.NONE:
        raise ValidationError("basis", f"a MONITOR measure has basis NONE, not {basis.value}", basis.value)
    if direction is not Direction.MONITOR and basis is Basis.NONE:
        raise ValidationError(
            "basis",
            f"a {direction.value} measure needs a basis other than NONE",
            basis.value,
        )
    if not components:
        raise ValidationError("components", "a measure needs at least one component", None)
    parsed: list[Component] = []
    for i, (key, label) in enumerate(components):
        k = parse_component_key(key, f"components[{i}].key")
        if any(c.key == k for c in parsed):
            raise ValidationError(f"components[{i}].key", f"{k!r} appears twice", k)
        parsed.append(Component(k, required_text(label, f"components[{i}].label", limit=MAX_LABEL)))
    return Definition(
        title=required_text(title, "title", limit=MAX_LABEL),
        description=text(description, "description"),
        direction=direction,
        basis=basis,
        tolerance=tol,
        unit=text(unit, "unit", limit=MAX_LABEL),
        components=tuple(parsed),
    )


def _definition_fields(definition: Definition) -> dict[str, Any]:
    return {
        "title": definition.title,
        "description": definition.description,
        "direction": definition.direction.value,
        "basis": definition.basis.value,
        "tolerance": definition.tolerance,
        "unit": definition.unit,
        "components": [{"key": c.key, "label": c.label} for c in definition.components],
    }
