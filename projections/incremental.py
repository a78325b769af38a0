"""Per event, only the rows of a measure that the event can change.

`measure_rows(assess_measure(m))` recomputes every component in every quarter;
this module recomputes what one event can reach, which the rules of
docs/rules.md bound tightly:

- A figure's assessment depends on its own record, the baseline in force for
  its component, the definition, and the plan's discrepancy threshold. It
  never depends on another quarter's figure: every basis compares a quarter
  with the baseline alone (YTD pro rata and target counts scale the baseline,
  or sum its profile, by the quarter's number; rolling and rate use it as is).
- A quarter's computed status is the worst of that quarter's component
  statuses; its shown status is the override where there is one.
- The measure's status is the shown status of the latest quarter with a
  figure or an override. This is the one rule that crosses quarters: a figure
  or override in one quarter can change which quarter the measure shows, so
  the measures row is recomputed on every event (it changes on every event
  anyway: its version and modified_at move).
- A baseline set or reset changes the comparison of every quarter of its
  component: all of that component's figure rows and all four quarter results.
  Earlier baseline rows stay as they were (a baseline row depends only on its
  own record, the basis and the threshold).
- A redefinition can change everything (direction, basis, tolerance, the
  components themselves), and a definition creates everything: both are
  recomputed whole by the caller, as `changed_rows` returning None says.
"""

from __future__ import annotations

from typing import Any

from domain.assessed import assess_figure, baseline_discrepancy
from domain.measure import Measure
from domain.values import QUARTER_OF, Amount, Quarter, Status
from projections.rows import Row, Rows, measure_row

# A row's key within the projection, as projections/tables.py KEYS names its columns, except that the
# measure's UUID is its `.int`: a UUID hashes through a Python-level __hash__, an int in C, and these
# keys are hashed some two dozen times an event (projections/changes.py writes no key, only row values).
Key = tuple[Any, ...]
# What an event can reach: a component's baseline (all its quarters), one figure, or one quarter.
BASELINE, FIGURE, QUARTER = "baseline", "figure", "quarter"
KINDS: dict[type, str] = {
    Measure.BaselineSet: BASELINE,
    Measure.BaselineReset: BASELINE,
    Measure.FigureSubmitted: FIGURE,
    Measure.FigureRevised: FIGURE,
    Measure.FigureMarkedUnavailable: FIGURE,
    Measure.CommentaryUpdated: QUARTER,
    Measure.StatusOverridden: QUARTER,
    Measure.StatusOverrideCleared: QUARTER,
}
QUARTERS = tuple(Quarter)
NO_DATA = Status.NO_DATA.value
# Enum `.value` is a Python-level property; these are plain dict lookups (both enums are StrEnums).
VALUE: dict[Status | Quarter, str] = {member: member.value for member in (*Status, *Quarter)}
# `rules.worst` as one max over ranks of the statuses' text: any assessed status beats NOT_ASSESSED,
# which beats NO_DATA (no figure at all), and among assessed ones the most severe wins.
RANK = {"NO_DATA": -2, "NOT_ASSESSED": -1, "ON_TRACK": 0, "AT_RISK": 1, "OFF_TRACK": 2}
BY_RANK = {rank: status for status, rank in RANK.items()}


def changed_rows(event: Any, measure: Measure, rows: Rows) -> Rows | None:
    """The rows `event` can have changed in `measure` (already mutated), given its rows before.

    None where the event can change anything, so the whole measure must be recomputed.
    """
    # By exact type, one lookup: an event type not listed here (a redefinition, or one added
    # later) falls back to recomputing everything, which is always correct.
    kind = KINDS.get(type(event))
    if kind is None:
        return None
    mid = measure.id.int
    keys = [c.key for c in measure.definition.components]
    figures: dict[Key, Row] = {}
    changed: Rows = {"figures": figures}
    quarters: tuple[Quarter, ...] = ()
    if kind is BASELINE:
        component = event.component
        seq = len(measure.baselines[component])
        changed["baselines"] = {(mid, component, seq): baseline_row(measure, component, seq)}
        if component in keys:
            for quarter in QUARTERS:
                _put_figure(figures, measure, component, quarter)
            quarters = QUARTERS
    elif kind is FIGURE:
        component = event.component
        # The view lists figures of current components only.
        if component in keys:
            quarter = QUARTER_OF[event.quarter]
            _put_figure(figures, measure, component, quarter)
            quarters = (quarter,)
    else:
        quarters = (QUARTER_OF[event.quarter],)
    old_figures = rows.get("figures", {})
    results = {(mid, VALUE[q]): quarter_row(measure, q, keys, figures, old_figures) for q in quarters}
    changed["quarter_results"] = results
    old_results = rows.get("quarter_results", {})
    changed["measures"] = {(mid,): measures_row(measure, keys, results, old_results, rows["measures"][(mid,)])}
    return changed


def _put_figure(figures: dict[Key, Row], measure: Measure, component: str, quarter: Quarter) -> None:
    row = figure_row(measure, component, quarter)
    if row is not None:
        figures[(measure.id.int, component, VALUE[quarter])] = row


def figure_row(measure: Measure, component: str, quarter: Quarter) -> Row | None:
    """The figures row of one component's quarter, as `rows._figure_row` makes it; None without a figure."""
    record = measure.figures.get((component, quarter))
    if record is None:
        return None
    a, baseline = assess_figure(measure, component, quarter)
    amount = record.amount or Amount()
    return {
        "measure_id": measure.id,
        "component": component,
        "quarter": VALUE[quarter],
        "value": amount.value,
        "numerator": amount.numerator,
        "denominator": amount.denominator,
        "available": record.amount is not None,
        "unavailable_reason": record.unavailable_reason,
        "measured": a.measured,
        "comparison_value": a.comparison,
        "change": a.change,
        "status": VALUE[a.status],
        "rule": a.rule,
        "baseline_seq": len(measure.baselines[component]) if baseline else None,
        "reported_change": record.reported_change,
        "discrepancy": a.discrepancy,
        "discrepancy_reason": a.discrepancy_reason,
        "commentary": record.commentary,
        "revision": record.revision,
        "reason": record.stamp.reason,
        "recorded_at": record.stamp.at,
        "recorded_by": record.stamp.by,
    }


def baseline_row(measure: Measure, component: str, seq: int) -> Row:
    """The baselines row of a component's `seq`th baseline (from 1), as `rows.measure_rows` makes it."""
    record = measure.baselines[component][seq - 1]
    reason = baseline_discrepancy(measure, record)
    amount = record.amount
    return {
        "measure_id": measure.id,
        "component": component,
        "seq": seq,
        "value": amount.value,
        "numerator": amount.numerator,
        "denominator": amount.denominator,
        "period": record.period,
        "profile": list(record.profile) if record.profile else None,
        "note": record.note,
        "is_reset": record.is_reset,
        "reason": record.stamp.reason,
        "recorded_at": record.stamp.at,
        "recorded_by": record.stamp.by,
        "discrepancy": reason is not None,
        "discrepancy_reason": reason,
    }


def quarter_row(
    measure: Measure,
    quarter: Quarter,
    keys: list[str],
    figures: dict[Key, Row],
    old_figures: dict[Key, Row],
) -> Row:
    """A quarter's result from its components' figure rows (new where recomputed, else as they were)."""
    mid = measure.id
    m, q = mid.int, VALUE[quarter]
    rank = -2  # no component: NO_DATA, as `worst` of nothing
    for key in keys:
        k = (m, key, q)
        row = figures.get(k) or old_figures.get(k)
        # No figure is NO_DATA, as `assess` says of a missing amount.
        if row is not None:
            r = RANK[row["status"]]
            if r > rank:
                rank = r
    computed = BY_RANK[rank]
    override = measure.overrides.get(quarter)
    text, stamp = measure.commentary.get(quarter, (None, None))
    return {
        "measure_id": mid,
        "quarter": q,
        "status": VALUE[override.status] if override else computed,
        "computed_status": computed,
        "override_status": VALUE[override.status] if override else None,
        "override_reason": override.stamp.reason if override else None,
        "override_by": override.stamp.by if override else None,
        "override_at": override.stamp.at if override else None,
        "commentary": text,
        "commentary_at": stamp.at if stamp else None,
        "commentary_by": stamp.by if stamp else None,
    }


def measures_row(
    measure: Measure,
    keys: list[str],
    results: dict[Key, Row],
    old_results: dict[Key, Row],
    old: Row,
) -> Row:
    """The measures row: only status, version and modified_at can move without a redefinition."""
    status = measure_status(measure, keys, results, old_results)
    return dict(old, status=status, version=measure.version, modified_at=measure.modified_on)


def measure_status(measure: Measure, keys: list[str], results: dict[Key, Row], old_results: dict[Key, Row]) -> str:
    """The shown status of the latest quarter with a figure of a current component or an override."""
    # As `current_quarter`, but quarters compare as their text (Q1 < Q2 < Q3 < Q4). A plain loop:
    # a measure has a handful of figures, fewer than a generator and a set cost to set up.
    latest = max(measure.overrides) if measure.overrides else None
    for component, q in measure.figures:
        if (latest is None or q > latest) and component in keys:
            latest = q
    if latest is None:
        return NO_DATA
    k = (measure.id.int, VALUE[latest])
    status: str = (results.get(k) or old_results[k])["status"]
    return status


def all_rows(measure: Measure) -> Rows:
    """Every row of a measure, as `measure_rows(assess_measure(measure))` makes them, from the builders above."""
    mid = measure.id
    m = mid.int
    d = measure.definition
    keys = [c.key for c in d.components]
    figures: dict[Key, Row] = {}
    for quarter in QUARTERS:
        for key in keys:
            _put_figure(figures, measure, key, quarter)
    results = {(m, VALUE[q]): quarter_row(measure, q, keys, figures, {}) for q in QUARTERS}
    status = measure_status(measure, keys, results, {})
    row = measure_row(
        mid, measure.plan_id, measure.theme_code, measure.number, d, status, measure.version, measure.modified_on
    )
    return {
        "measures": {(m,): row},
        "components": {
            (m, c.key): {"measure_id": mid, "key": c.key, "label": c.label, "ordinal": i}
            for i, c in enumerate(d.components)
        },
        "baselines": {
            (m, key, seq): baseline_row(measure, key, seq)
            for key, records in measure.baselines.items()
            for seq in range(1, len(records) + 1)
        },
        "figures": figures,
        "quarter_results": results,
    }
