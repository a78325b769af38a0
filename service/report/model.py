"""A plan's report at one ledger position: by theme, each measure with its baseline, quarters and status.

Everything is read through `service.schema.loaders.Loaders`, the DataLoaders the
GraphQL API reads with, at the report's position: a report is a fixed number of
round trips whatever the plan's size, and shows exactly what `plan(id, asOf)`
(or `plan(id, publication)`) shows. For a past position the current figures are
read as well, to mark the figures revised (or first reported) since; on a
publication's page, those of the quarters it covers (its own and earlier), as
`Figure.revisedAfterPublication` counts them: later quarters were not yet due.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

import asyncpg

from domain.values import Quarter
from service.report import marks
from service.report.moment import Kind, Shown
from service.schema.columns import from_columns
from service.schema.loaders import Loaders, Row

QUARTERS = tuple(q.value for q in Quarter)


@dataclass(frozen=True)
class Later:
    """A figure's state now, where it changed after the report's position."""

    text: str
    revision: int
    reason: str | None
    recorded_at: datetime
    recorded_by: str
    first_reported: bool  # no figure at all at the report's position


@dataclass(frozen=True)
class FigureCell:
    measure_number: str
    component: str
    label: str
    quarter: str
    text: str
    change: str | None
    change_plain: str
    status: str
    rule: str
    available: bool
    unavailable_reason: str | None
    discrepancy_reason: str | None
    commentary: str | None
    revision: int
    reason: str | None
    recorded_at: datetime
    recorded_by: str
    measured: Decimal | None
    comparison: Decimal | None
    later: Later | None = None

    @property
    def anchor(self) -> str:
        """The id of this figure's entries on its measure's history page."""
        return f"fig-{self.component}-{self.quarter}"


@dataclass(frozen=True)
class Override:
    status: str
    reason: str
    by: str
    at: datetime


@dataclass(frozen=True)
class QuarterCell:
    quarter: str
    status: str
    computed_status: str
    override: Override | None
    commentary: str | None
    figures: list[FigureCell]
    missing: list[str]  # labels of components with no figure this quarter
    reported_since: list[tuple[str, Later]] = field(default_factory=list)  # of those, reported after the position


@dataclass(frozen=True)
class BaselineText:
    component: str
    label: str
    text: str
    period: str | None
    note: str | None
    is_reset: bool
    reason: str | None
    recorded_at: datetime
    discrepancy_reason: str | None
    earlier: list[str]  # the baselines it superseded, oldest first
    reset_since: str | None = None  # a reset after the report's position: the baseline in force now


@dataclass(frozen=True)
class MeasureReport:
    id: UUID
    theme_code: str
    number: str
    title: str
    description: str | None
    direction: str
    basis: str
    unit: str | None
    status: str
    baselines: list[BaselineText]
    quarters: list[QuarterCell]

    @property
    def rate(self) -> bool:
        return self.basis == "RATE"

    def figures(self) -> list[FigureCell]:
        return [f for q in self.quarters for f in q.figures]


@dataclass(frozen=True)
class ThemeReport:
    code: str
    title: str
    measures: list[MeasureReport]

    @property
    def counts(self) -> list[tuple[str, int]]:
        """How many measures have each status now, worst first, statuses with none left out."""
        found = Counter(m.status for m in self.measures)
        return [(s, found[s]) for s in marks.ORDER if found[s]]


@dataclass(frozen=True)
class Report:
    plan_id: UUID
    partnership: str
    title: str
    year: str
    period_start: date
    period_end: date
    shown: Shown
    themes: list[ThemeReport]
    revised_since: int = field(default=0)  # figures revised or first reported after the position

    @property
    def measures(self) -> list[MeasureReport]:
        return [m for t in self.themes for m in t.measures]

    @property
    def counts(self) -> list[tuple[str, int]]:
        found = Counter(m.status for m in self.measures)
        return [(s, found[s]) for s in marks.ORDER if found[s]]


async def load_report(pool: asyncpg.Pool, plan_id: UUID, shown: Shown) -> Report | None:
    """The plan's report at `shown`'s position; None if the plan did not exist there."""
    if shown.position == 0:
        return None
    loaders = Loaders(pool, shown.position)
    plan = await loaders.plan.load(plan_id)
    if plan is None:
        return None
    themes, measures = await asyncio.gather(loaders.themes.load(plan_id), loaders.measures.load(plan_id))
    ids = [m["id"] for m in measures]
    components, baselines, figures, quarters = await asyncio.gather(
        loaders.components.load_many(ids),
        loaders.baselines.load_many(ids),
        loaders.figures.load_many(ids),
        loaders.quarters.load_many(ids),
    )
    now_figures: list[list[Row]] | None = None
    now_baselines: list[list[Row]] | None = None
    if shown.kind is not Kind.CURRENT:
        now = Loaders(pool, None)
        now_figures, now_baselines = await asyncio.gather(now.figures.load_many(ids), now.baselines.load_many(ids))
        if shown.publication is not None:
            through = shown.publication.quarter
            now_figures = [[f for f in rows if f["quarter"] <= through] for rows in now_figures]
    reports = []
    for i, m in enumerate(measures):
        reports.append(
            _measure(
                m,
                components[i],
                baselines[i],
                figures[i],
                quarters[i],
                now_figures[i] if now_figures is not None else None,
                now_baselines[i] if now_baselines is not None else None,
            )
        )
    by_theme = [ThemeReport(t["code"], t["title"], [r for r in reports if r.theme_code == t["code"]]) for t in themes]
    revised = sum(
        len(q.reported_since) + sum(f.later is not None for f in q.figures) for r in reports for q in r.quarters
    )
    return from_columns(Report, plan, plan_id=plan_id, shown=shown, themes=by_theme, revised_since=revised)


def _measure(
    m: Row,
    components: list[Row],
    baselines: list[Row],
    figures: list[Row],
    quarters: list[Row],
    now_figures: list[Row] | None,
    now_baselines: list[Row] | None,
) -> MeasureReport:
    rate = m["basis"] == "RATE"
    labels = {c["key"]: c["label"] for c in components}
    now = {(f["component"], f["quarter"]): f for f in now_figures} if now_figures is not None else None
    cells: dict[tuple[str, str], FigureCell] = {}
    for f in figures:
        if f["component"] in labels:
            cells[(f["component"], f["quarter"])] = _figure(m, f, labels[f["component"]], rate, now)
    results = {r["quarter"]: r for r in quarters}
    quarter_cells = []
    for q in QUARTERS:
        shown = [cells[(c["key"], q)] for c in components if (c["key"], q) in cells]
        absent = [c for c in components if (c["key"], q) not in cells]
        since = [(c["label"], _later(now[(c["key"], q)], rate, True)) for c in absent if now and (c["key"], q) in now]
        quarter_cells.append(_quarter(q, results.get(q), shown, [c["label"] for c in absent], since))
    return from_columns(
        MeasureReport,
        m,
        baselines=[_baseline(c, baselines, now_baselines, rate) for c in components],
        quarters=quarter_cells,
    )


def _figure(m: Row, f: Row, label: str, rate: bool, now: dict[tuple[str, str], Row] | None) -> FigureCell:
    later = None
    if now is not None:
        current = now.get((f["component"], f["quarter"]))
        if current is not None and current["revision"] != f["revision"]:
            later = _later(current, rate, first=False)
    return from_columns(
        FigureCell,
        f,
        measure_number=m["number"],
        label=label,
        text=_figure_text(f, rate),
        change=marks.change(f["change"], rate),
        change_plain=marks.plain_change(f["change"]),
        discrepancy_reason=f["discrepancy_reason"] if f["discrepancy"] else None,
        comparison=f["comparison_value"],
        later=later,
    )


def _later(current: Row, rate: bool, first: bool) -> Later:
    return from_columns(Later, current, text=_figure_text(current, rate), first_reported=first)


def _figure_text(f: Row, rate: bool) -> str:
    if not f["available"]:
        return "Not available"
    return _amount_text(f, rate)


def _amount_text(row: Row, rate: bool) -> str:
    """A figure or baseline row's amount as the report prints it."""
    return marks.amount(row["value"], row["numerator"], row["denominator"], rate)


def _quarter(
    q: str, r: Row | None, figures: list[FigureCell], missing: list[str], since: list[tuple[str, Later]]
) -> QuarterCell:
    if r is None:  # a measure defined with no quarter rows yet reads as having no data
        return QuarterCell(q, "NO_DATA", "NO_DATA", None, None, figures, missing, since)
    override = None
    if r["override_status"] is not None:
        override = Override(r["override_status"], r["override_reason"], r["override_by"], r["override_at"])
    return QuarterCell(q, r["status"], r["computed_status"], override, r["commentary"], figures, missing, since)


def _baseline(c: Row, rows: list[Row], now_rows: list[Row] | None, rate: bool) -> BaselineText:
    own = [b for b in rows if b["component"] == c["key"]]
    if not own:
        return BaselineText(c["key"], c["label"], "", None, None, False, None, datetime.min, None, [])
    b = own[-1]
    text = _amount_text(b, rate)
    # A baseline the ledger knows only as superseded (its value never printed) says so, rather than nothing.
    earlier = [_amount_text(e, rate) or "not recorded" for e in own[:-1]]
    reset_since = None
    if now_rows is not None:
        now_own = [n for n in now_rows if n["component"] == c["key"]]
        if now_own and now_own[-1]["seq"] != b["seq"]:
            reset_since = _amount_text(now_own[-1], rate)
    return from_columns(
        BaselineText,
        b,
        component=c["key"],
        label=c["label"],
        text=text,
        discrepancy_reason=b["discrepancy_reason"] if b["discrepancy"] else None,
        earlier=earlier,
        reset_since=reset_since,
    )
