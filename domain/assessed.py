"""A measure assessed whole: every figure by the rules, every quarter, and the measure's status.

What a reader sees of a measure: the current-state projection writes exactly this (a key at a time,
and a test holds its rows equal to these), and time travel stores it per version, so every read
shows what these functions computed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from domain.definition import Component, Definition
from domain.measure import Measure
from domain.records import BaselineRecord, FigureRecord, Override
from domain.rules import Assessment, assess, current_quarter, discrepancy_reason, worst
from domain.values import Quarter, Status


@dataclass(frozen=True)
class AssessedFigure:
    component: str
    quarter: Quarter
    record: FigureRecord
    assessment: Assessment
    baseline: BaselineRecord | None


@dataclass(frozen=True)
class AssessedBaseline:
    record: BaselineRecord
    discrepancy_reason: str | None

    @property
    def discrepancy(self) -> bool:
        return self.discrepancy_reason is not None


@dataclass(frozen=True)
class AssessedQuarter:
    quarter: Quarter
    status: Status
    computed_status: Status
    override: Override | None
    commentary: str | None
    commentary_at: datetime | None
    commentary_by: str | None


@dataclass(frozen=True)
class AssessedMeasure:
    id: UUID
    plan_id: UUID
    theme_code: str
    number: str
    definition: Definition
    version: int
    modified_at: datetime
    status: Status
    components: tuple[Component, ...]
    baselines: dict[str, tuple[AssessedBaseline, ...]]
    figures: tuple[AssessedFigure, ...]
    quarters: tuple[AssessedQuarter, ...]


def assess_figure(measure: Measure, component: str, quarter: Quarter) -> tuple[Assessment, BaselineRecord | None]:
    """The verdict on one component's quarter against its baseline in force now."""
    baseline = measure.baseline(component)
    return assess_record(measure, measure.figures.get((component, quarter)), quarter, baseline), baseline


def assess_record(
    measure: Measure, record: FigureRecord | None, quarter: Quarter, baseline: BaselineRecord | None
) -> Assessment:
    """The verdict on a quarter's figure `record` (None: no figure) against `baseline`, by the measure's definition."""
    d = measure.definition
    return assess(
        direction=d.direction,
        basis=d.basis,
        tolerance=d.tolerance,
        baseline=baseline.as_rule if baseline else None,
        quarter=quarter,
        amount=record.amount if record else None,
        reported_change=record.reported_change if record else None,
        threshold=measure.discrepancy_threshold,
    )


def computed_status(measure: Measure, quarter: Quarter) -> Status:
    """A quarter's computed status, as `assess_measure` computes it, without assessing the other quarters."""
    return worst(assess_figure(measure, c.key, quarter)[0].status for c in measure.definition.components)


def assess_measure(measure: Measure) -> AssessedMeasure:
    """Assess every component in every quarter, and the measure as a whole."""
    keys = [c.key for c in measure.definition.components]
    figures: list[AssessedFigure] = []
    quarters: list[AssessedQuarter] = []
    reported: list[Quarter] = []
    for quarter in Quarter:
        statuses: list[Status] = []
        has_figure = False
        for key in keys:
            assessment, baseline = assess_figure(measure, key, quarter)
            statuses.append(assessment.status)
            record = measure.figures.get((key, quarter))
            if record is not None:
                has_figure = True
                figures.append(AssessedFigure(key, quarter, record, assessment, baseline))
        computed = worst(statuses)
        override = measure.overrides.get(quarter)
        if has_figure or override is not None:
            reported.append(quarter)
        text, stamp = measure.commentary.get(quarter, (None, None))
        quarters.append(
            AssessedQuarter(
                quarter=quarter,
                status=override.status if override else computed,
                computed_status=computed,
                override=override,
                commentary=text,
                commentary_at=stamp.at if stamp else None,
                commentary_by=stamp.by if stamp else None,
            )
        )
    latest = current_quarter(reported)
    status = quarters[latest.number - 1].status if latest else Status.NO_DATA
    return AssessedMeasure(
        id=measure.id,
        plan_id=measure.plan_id,
        theme_code=measure.theme_code,
        number=measure.number,
        definition=measure.definition,
        version=measure.version,
        modified_at=measure.modified_on,
        status=status,
        components=measure.definition.components,
        baselines={k: tuple(_assessed_baseline(measure, b) for b in v) for k, v in measure.baselines.items()},
        figures=tuple(figures),
        quarters=tuple(quarters),
    )


def _assessed_baseline(measure: Measure, record: BaselineRecord) -> AssessedBaseline:
    return AssessedBaseline(record, baseline_discrepancy(measure, record))


def baseline_discrepancy(measure: Measure, record: BaselineRecord) -> str | None:
    """A stated baseline rate that its own fraction contradicts is flagged, like a figure."""
    return discrepancy_reason(record.amount, measure.discrepancy_threshold)
