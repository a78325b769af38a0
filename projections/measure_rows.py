"""A measure's rows: all of them, or only those one event can change.

`measure_rows` makes every row of a measure; `changed_rows` decides which rows one event can
reach and makes only those, with the same builders (projections/rows.py) and the same rules
(domain/rules.py, domain/assessed.py). The rules (docs/rules.md) bound an event's reach tightly:

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
  the measures row is made again on every event (it changes on every event
  anyway: its version and modified_at move).
- A baseline set or reset changes the comparison of every quarter of its
  component: all of that component's figure rows and all four quarter results.
  Earlier baseline rows stay as they were (a baseline row depends only on its
  own record, the basis and the threshold).
- A redefinition can change everything (direction, basis, tolerance, the
  components themselves), and a definition creates everything: for both,
  `changed_rows` returns None and the caller makes every row.
- An owner assigned changes the owners row; a return's action, its quarter's
  returns row. Neither moves a figure or a status: only the measures row's
  version with them. Commentary changes its quarter's result row but no
  status either, so the measures row keeps the status it had.
- A figure of a current component makes its quarter one with a figure, so
  the measure's current quarter is that one or a later one.

A row's key holds the measure's UUID's `.int`: a UUID hashes through a Python-level __hash__, an int
in C, and these keys are hashed some two dozen times an event. Quarters and statuses are `StrEnum`s,
which hash and compare as their text.
"""

from __future__ import annotations

from operator import attrgetter
from typing import Any
from uuid import UUID

from domain.assessed import assess_record, baseline_discrepancy
from domain.measure import Measure
from domain.rules import WEIGHT
from domain.values import QUARTER_OF, Quarter, Status
from projections.rows import (
    Key,
    Row,
    Rows,
    baseline_row,
    component_row,
    figure_row,
    measure_row,
    measure_row_moved,
    owner_row,
    quarter_row,
    return_row,
)

BASELINE, FIGURE, QUARTER, COMMENTARY, OWNER, RETURN = "baseline", "figure", "quarter", "commentary", "owner", "return"
# What each event reaches besides the measures row, by the event's exact type: a type not listed
# here (a redefinition, or one added later) makes every row again, which is always correct.
REACHES: dict[type, str] = {
    Measure.BaselineSet: BASELINE,
    Measure.BaselineReset: BASELINE,
    Measure.FigureSubmitted: FIGURE,
    Measure.FigureRevised: FIGURE,
    Measure.FigureMarkedUnavailable: FIGURE,
    Measure.CommentaryUpdated: COMMENTARY,
    Measure.StatusOverridden: QUARTER,
    Measure.StatusOverrideCleared: QUARTER,
    Measure.OwnerAssigned: OWNER,
    Measure.ReturnSubmitted: RETURN,
    Measure.ReturnApproved: RETURN,
    Measure.ReturnSentBack: RETURN,
    Measure.ReturnReopened: RETURN,
}
QUARTERS = tuple(Quarter)
LATEST_FIRST = QUARTERS[::-1]
# The quarters after each, latest first.
LATER_FIRST = {q: LATEST_FIRST[: LATEST_FIRST.index(q)] for q in QUARTERS}
KEY_OF = attrgetter("key")
NO_DATA = Status.NO_DATA


def measure_rows(measure: Measure) -> Rows:
    """Every row of a measure: the definition's, every baseline's, and every quarter's of every component."""
    mid = measure.id
    m = mid.int
    components = measure.definition.components
    keys = [c.key for c in components]
    figures: dict[Key, Row] = {}
    for quarter in QUARTERS:
        for key in keys:
            _put_figure(figures, mid, m, measure, key, quarter)
    results = {(m, q): _quarter_row(mid, m, measure, q, keys, figures, {}) for q in QUARTERS}
    return {
        "measures": {(m,): _measure_row(mid, measure, keys, results, {})},
        "components": {(m, c.key): component_row(mid, i, c) for i, c in enumerate(components)},
        "baselines": {
            (m, key, seq): _baseline_row(mid, measure, key, seq)
            for key, records in measure.baselines.items()
            for seq in range(1, len(records) + 1)
        },
        "figures": figures,
        "quarter_results": results,
        "owners": {(m,): owner_row(mid, owner)} if (owner := measure.owner) else {},
        "returns": {(m, q): return_row(mid, q, record) for q, record in measure.returns.items()},
    }


def changed_rows(event: Any, measure: Measure, rows: Rows) -> Rows | None:
    """The rows `event` can have changed in `measure` (already mutated), given its rows before.

    None where the event can change anything, so every row must be made again (`measure_rows`).
    """
    reach = REACHES.get(type(event))
    if reach is None:
        return None
    mid = measure.id
    m = mid.int
    old = rows["measures"][(m,)]
    if reach is OWNER or reach is RETURN:
        return _cycle_rows(event, mid, measure, old, reach)
    # Without a comprehension's own frame: this runs for every event.
    keys = list(map(KEY_OF, measure.definition.components))
    figures: dict[Key, Row] = {}
    changed: Rows = {"figures": figures}
    quarters: tuple[Quarter, ...] = ()
    # The latest quarter the measure can show: the event's, where it made a figure of a current component there.
    shown_from: Quarter | None = None
    if reach is FIGURE:
        # Figures of current components only are shown.
        if event.component in keys:
            quarter = QUARTER_OF[event.quarter]
            _put_figure(figures, mid, m, measure, event.component, quarter)
            quarters = (quarter,)
            shown_from = quarter
    elif reach is BASELINE:
        component = event.component
        seq = len(measure.baselines[component])
        changed["baselines"] = {(m, component, seq): _baseline_row(mid, measure, component, seq)}
        if component in keys:
            for quarter in QUARTERS:
                _put_figure(figures, mid, m, measure, component, quarter)
            quarters = QUARTERS
    else:
        quarters = (QUARTER_OF[event.quarter],)
    old_figures = rows.get("figures", {})
    results: dict[Key, Row] = {}
    for quarter in quarters:
        results[(m, quarter)] = _quarter_row(mid, m, measure, quarter, keys, figures, old_figures)
    changed["quarter_results"] = results
    if reach is COMMENTARY:
        # Commentary moves no figure, override or status: the measure's status is the one its row had.
        changed["measures"] = {(m,): measure_row_moved(old, old["status"], measure.version, measure.modified_on)}
    else:
        measures = _measure_row(mid, measure, keys, results, rows["quarter_results"], old, shown_from)
        changed["measures"] = {(m,): measures}
    return changed


# The helpers below take the measure's id beside the measure: `Aggregate.id` is a Python-level property.


def _cycle_rows(event: Any, mid: UUID, measure: Measure, old: Row, reach: str) -> Rows:
    """The owners or returns row an event of the reporting cycle changed, and the measures row.

    The cycle moves no figure, override or quarter, so the measure's status is the one its row had."""
    m = mid.int
    changed: Rows = {"measures": {(m,): measure_row_moved(old, old["status"], measure.version, measure.modified_on)}}
    if reach is OWNER:
        owner = measure.owner
        assert owner is not None
        changed["owners"] = {(m,): owner_row(mid, owner)}
    else:
        quarter = QUARTER_OF[event.quarter]
        changed["returns"] = {(m, quarter): return_row(mid, quarter, measure.returns[quarter])}
    return changed


def _put_figure(figures: dict[Key, Row], mid: UUID, m: int, measure: Measure, component: str, quarter: Quarter) -> None:
    """The figures row of one component's quarter, if it has a figure, assessed against its baseline now."""
    record = measure.figures.get((component, quarter))
    if record is not None:
        baselines = measure.baselines.get(component)
        assessment = assess_record(measure, record, quarter, baselines[-1] if baselines else None)
        seq = len(baselines) if baselines else None
        figures[(m, component, quarter)] = figure_row(mid, component, quarter, record, assessment, seq)


def _baseline_row(mid: UUID, measure: Measure, component: str, seq: int) -> Row:
    record = measure.baselines[component][seq - 1]
    return baseline_row(mid, component, seq, record, baseline_discrepancy(measure, record), measure.definition.basis)


def _quarter_row(
    mid: UUID,
    m: int,
    measure: Measure,
    quarter: Quarter,
    keys: list[str],
    figures: dict[Key, Row],
    old_figures: dict[Key, Row],
) -> Row:
    """A quarter's result from its components' figure rows (new where made again, else as they were)."""
    # `rules.worst` of the components' statuses, as one pass over their weights: a component without a figure
    # has no data (as `assess` says of a missing amount), which weighs least, as no component does.
    computed, weight = NO_DATA, 0
    for key in keys:
        k = (m, key, quarter)
        row = figures.get(k) or old_figures.get(k)
        if row is not None:
            status = row["status"]
            if WEIGHT[status] > weight:
                computed, weight = status, WEIGHT[status]
    commentary = measure.commentary.get(quarter)
    if commentary is None:
        return quarter_row(mid, quarter, computed, measure.overrides.get(quarter), None, None, None)
    text, stamp = commentary
    return quarter_row(mid, quarter, computed, measure.overrides.get(quarter), text, stamp.at, stamp.by)


def _current_quarter(measure: Measure, keys: list[str], shown_from: Quarter | None = None) -> Quarter | None:
    """`rules.current_quarter` of the quarters with a figure of a current component or an override.

    Asked from the last quarter back, so a measure's dozen figures are not listed and ordered on every event; given
    `shown_from`, a quarter known to have a figure of a current component, only the quarters after it are asked.
    """
    figures, overrides = measure.figures, measure.overrides
    if not figures and not overrides:
        return shown_from  # a measure just defined, or with baselines only
    for quarter in LATEST_FIRST if shown_from is None else LATER_FIRST[shown_from]:
        if quarter in overrides:
            return quarter
        for key in keys:
            if (key, quarter) in figures:
                return quarter
    return shown_from


def _measure_row(
    mid: UUID,
    measure: Measure,
    keys: list[str],
    results: dict[Key, Row],
    old_results: dict[Key, Row],
    old: Row | None = None,
    shown_from: Quarter | None = None,
) -> Row:
    """The measures row, its status the one shown for the measure's current quarter.

    Given the row before an event that can change neither the definition nor the measure's plan, theme or
    number (any in REACHES), that row with its status, version and modified_at moved on.
    """
    latest = _current_quarter(measure, keys, shown_from)
    if latest is None:
        status = NO_DATA
    else:
        k = (mid.int, latest)
        status = (results.get(k) or old_results[k])["status"]
    if old is not None:
        return measure_row_moved(old, status, measure.version, measure.modified_on)
    return measure_row(
        mid,
        measure.plan_id,
        measure.theme_code,
        measure.number,
        measure.definition,
        status,
        measure.version,
        measure.modified_on,
    )
