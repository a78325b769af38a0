"""Plans out: a plan file (YAML) that imports back to the same ledger, and a CSV for spreadsheets.

The YAML is written from the aggregates: every definition, baseline and reset,
figure and revision, commentary and override, and the reporting cycle (owners,
returns, due dates, publications: service/cycle_export.py). Importing it into an empty
ledger and exporting again gives the same text.
"""

from __future__ import annotations

import csv
import io
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from uuid import UUID

import yaml
from eventsourcing.utils import get_topic

from domain.assessed import AssessedFigure, AssessedMeasure, assess_measure
from domain.definition import Component, Definition
from domain.ledger import Ledger
from domain.measure import Measure
from domain.plan import Plan
from domain.records import BaselineRecord, FigureRecord
from domain.rules import discrepancies, shown
from domain.values import Amount, Quarter, plain
from service.cycle_export import measure_cycle, plan_cycle
from service.plan_file.parsed import FORMAT, file_reason
from service.plan_file.steps import amount_text

BATCH = 500
WIDTH = 120  # long narrative lines fold less, so a diff of two exports reads better
CSV_COLUMNS = (
    "theme",
    "measure",
    "component",
    "quarter",
    "value",
    "numerator",
    "denominator",
    "unavailable_reason",
    "reported_change",
    "baseline",
    "comparison",
    "change",
    "status",
    "measure_status",
    "discrepancy",
    "discrepancy_reason",
    "baseline_discrepancy",
    "revision",
)


def measures_of_plan(ledger: Ledger, plan_id: UUID) -> list[Measure]:
    """The plan's measures in the order they were defined.

    The ledger keeps no index of measures per plan, so the definitions are read
    from the event log, a batch at a time.
    """
    topic = get_topic(Measure.MeasureDefined)
    ids: list[UUID] = []
    start = 1
    while True:
        batch = ledger.recorder.select_notifications(start=start, limit=BATCH, topics=[topic])
        for notification in batch:
            event = ledger.mapper.to_domain_event(notification)
            if isinstance(event, Measure.MeasureDefined) and event.plan_id == plan_id:
                ids.append(event.originator_id)
        if len(batch) < BATCH:
            break
        start = batch[-1].id + 1
    return [ledger.get_measure(measure_id) for measure_id in ids]


def _by_theme(plan: Plan, measures: list[Measure]) -> list[tuple[str, str, list[Measure]]]:
    return [(t.code, t.title, [m for m in measures if m.theme_code == t.code]) for t in plan.themes]


# -- YAML ------------------------------------------------------------------------------


def export_plan_yaml(ledger: Ledger, plan_id: UUID) -> str:
    """The plan as a plan file: `import_plan` of it into an empty ledger rebuilds the same state.

    Overrides are written as `status` entries; an override whose status equals
    the computed one is written too, but an import records none for it.
    """
    plan = ledger.get_plan(plan_id)
    every = measures_of_plan(ledger, plan_id)
    themes = []
    for code, title, measures in _by_theme(plan, every):
        theme: dict[str, Any] = {"code": code, "title": title}
        if measures:
            theme["measures"] = [_measure(ledger, m) for m in measures]
        themes.append(theme)
    document = {
        "format": FORMAT,
        "partnership": plan.partnership,
        "plan": {
            "title": plan.title,
            "year": plan.year,
            "period": {"start": plan.period_start.isoformat(), "end": plan.period_end.isoformat()},
            "discrepancy_threshold": _number(plan.discrepancy_threshold),
        },
        "themes": themes,
    }
    if cycle := plan_cycle(plan, every):
        document["cycle"] = cycle
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=WIDTH)


def _measure(ledger: Ledger, measure: Measure) -> dict[str, Any]:
    definitions = [d for d, _ in measure.definitions]
    owner: dict[str, int] = {}
    for i, definition in enumerate(definitions):
        for component in definition.components:
            owner.setdefault(component.key, i)

    def components(i: int) -> list[dict[str, Any]]:
        return [_component(measure, c, data=owner[c.key] == i) for c in definitions[i].components]

    out: dict[str, Any] = {"number": measure.number, **_definition(definitions[0]), "components": components(0)}
    redefinitions = []
    positions = _redefinition_positions(ledger, measure)
    for i, ((definition, stamp), position) in enumerate(zip(measure.definitions[1:], positions, strict=True), 1):
        entry = {**_definition(definition), "components": components(i), "reason": stamp.reason}
        if 0 < position < 4:
            entry["before_quarter"] = f"Q{position + 1}"
        elif position == 4:
            entry["after_quarter"] = "Q4"
        redefinitions.append(entry)
    if redefinitions:
        out["redefinitions"] = redefinitions
    if measure.commentary:
        out["commentary"] = {q.value: measure.commentary[q][0] for q in Quarter if q in measure.commentary}
    if measure.overrides:
        out["status"] = {
            q.value: {"status": o.status.value, "reason": file_reason(o.stamp.reason, o.status)}
            for q, o in sorted(measure.overrides.items(), key=lambda item: item[0].number)
        }
    return {**out, **measure_cycle(measure)}


def _redefinition_positions(ledger: Ledger, measure: Measure) -> list[int]:
    """For each redefinition, the latest quarter with a figure recorded before it (0 for none)."""
    positions: list[int] = []
    latest = 0
    for event in ledger.events.get(measure.id):
        if isinstance(event, Measure.MeasureRedefined):
            positions.append(latest)
        elif isinstance(event, Measure.FigureSubmitted | Measure.FigureMarkedUnavailable):
            latest = max(latest, Quarter(event.quarter).number)
    return positions


def _definition(definition: Definition) -> dict[str, Any]:
    return _present(
        title=definition.title,
        description=definition.description,
        direction=definition.direction.value,
        basis=definition.basis.value,
        tolerance=_number(definition.tolerance),
        unit=definition.unit,
    )


def _component(measure: Measure, component: Component, *, data: bool) -> dict[str, Any]:
    """A component; its data is written only under the definition that introduced it."""
    out: dict[str, Any] = {"key": component.key, "label": component.label}
    if not data:
        return out
    records = measure.baselines.get(component.key, [])
    if records and not records[0].is_reset:
        out["baseline"] = _baseline(records[0])
        records = records[1:]
    if records:
        out["baseline_resets"] = [{**_baseline(b), "reason": b.stamp.reason} for b in records]
    figures = {
        q.value: _figures(measure.figure_history[(component.key, q)])
        for q in Quarter
        if (component.key, q) in measure.figure_history
    }
    if figures:
        out["figures"] = figures
    return out


def _baseline(record: BaselineRecord) -> dict[str, Any]:
    profile = [_number(v) for v in record.profile] if record.profile else None
    return {**_amount(record.amount), **_present(period=record.period, profile=profile, note=record.note)}


def _figures(history: list[FigureRecord]) -> dict[str, Any]:
    head, *later = history
    out = _figure(head)
    if later:
        out["revisions"] = [_figure(record) for record in later]
    return out


def _figure(record: FigureRecord) -> dict[str, Any]:
    if record.amount is None:
        # The commentary an unavailable mark shows is carried over from before it, not part of the mark.
        return {"unavailable": record.unavailable_reason}
    change = None if record.reported_change is None else _number(record.reported_change)
    return {
        **_amount(record.amount),
        **_present(reported_change=change, commentary=record.commentary, reason=record.stamp.reason),
    }


def _amount(amount: Amount) -> dict[str, str]:
    return {k: _number(v) for k, v in amount.as_dict().items() if v is not None}


def _number(value: Decimal) -> str:
    return str(value)


def _present(**fields: Any) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


# -- CSV -------------------------------------------------------------------------------


def export_plan_csv(ledger: Ledger, plan_id: UUID) -> str:
    """One row per measure, component and quarter with a figure: the figure, what it was
    compared with, the change (rounded to 1 dp), the statuses, and any discrepancy."""
    plan = ledger.get_plan(plan_id)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for code, _, measures in _by_theme(plan, measures_of_plan(ledger, plan_id)):
        for measure in measures:
            assessed = assess_measure(measure)
            order = {c.key: i for i, c in enumerate(assessed.components)}
            for figure in sorted(assessed.figures, key=lambda f: (order.get(f.component, 0), f.quarter.number)):
                writer.writerow(_row(code, measure, assessed, figure))
    return out.getvalue()


def _row(theme: str, measure: Measure, assessed: AssessedMeasure, figure: AssessedFigure) -> list[str]:
    a, record, baseline = figure.assessment, figure.record, figure.baseline
    amount = record.amount or Amount()
    flags = (
        discrepancies(assessed.definition.basis, baseline.amount, None, None, measure.discrepancy_threshold)
        if baseline
        else []
    )
    return [
        theme,
        measure.number,
        figure.component,
        figure.quarter.value,
        _blank(amount.value),
        _blank(amount.numerator),
        _blank(amount.denominator),
        record.unavailable_reason or "",
        _blank(record.reported_change),
        amount_text(baseline.amount) if baseline else "",
        _blank(None if a.comparison is None else _short(a.comparison)),
        "" if a.change is None else shown(a.change),
        a.status.value,
        assessed.quarters[figure.quarter.number - 1].status.value,
        "yes" if a.discrepancy else "no",
        a.discrepancy_reason or "",
        "; ".join(flags),
        str(record.revision),
    ]


def _short(value: Decimal) -> Decimal:
    """At most two decimal places: a rate's comparison value can run to 28 digits."""
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP).normalize()


def _blank(value: Decimal | None) -> str:
    return "" if value is None else plain(value)
