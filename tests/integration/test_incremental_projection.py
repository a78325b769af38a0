"""The projection writes exactly what the domain's whole-measure assessment says, event by event.

The projection makes only the rows each event can reach (projections/measure_rows.py). The
reference, `WholeMeasureReference`, assesses the whole measure again for every event
(domain/assessed.py `assess_measure`), puts every row of it through the same row builders
(projections/rows.py), and diffs them with the rows before. A varied ledger — the seeded bench
generator, the real 2012-13 plan, then a seeded storm of revisions, resets with
and without profiles, unavailable figures, overrides and their clearing,
commentary, and redefinitions that change direction, basis and components,
interleaved across measures — is projected both ways and every table compared
whole: every temporal row with its valid_from/valid_to, status_changes and
audit_entries.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import pytest
from eventsourcing.persistence import Tracking

import projections.catch_up
import projections.view
from bench.generate import Size, generate
from domain import commands
from domain.assessed import assess_measure
from domain.definition import parse_definition
from domain.errors import DomainError
from domain.ledger import Ledger, Request
from domain.measure import Measure
from domain.publishing import Outstanding, PublicationFacts, quarter_end
from domain.returns import ReturnState
from domain.values import Basis, Direction, Quarter, Status, parse_amount
from projections import rows
from projections.catch_up import catch_up
from projections.current_state import CurrentState
from projections.read_model_tables import TABLES
from projections.view import open_view
from service.plan_file import import_plan, load_plan_file
from tests.integration.given import OFFICER, a_measure, a_plan

DEMO = Path(__file__).resolve().parents[2] / "examples" / "community-safety-plan-2012-13.yaml"
AUDITOR = Request("auditor@stockton.gov.uk")
EVENTS = {
    *("PlanCreated", "ThemeAdded", "MeasureDefined", "MeasureRedefined", "BaselineSet", "BaselineReset"),
    *("FigureSubmitted", "FigureRevised", "FigureMarkedUnavailable", "CommentaryUpdated"),
    *("StatusOverridden", "StatusOverrideCleared"),
    *("OwnerAssigned", "ReturnSubmitted", "ReturnApproved", "ReturnSentBack", "ReturnReopened"),
    *("CollectionOpened", "CollectionDueDateChanged", "QuarterPublished"),
}
STATUSES = (Status.ON_TRACK, Status.AT_RISK, Status.OFF_TRACK, Status.NO_DATA)
# Definitions a measure may be switched between: every direction and basis, and component sets that
# keep, drop and add keys (a dropped component's figures leave the view; an added one has no baseline).
SHAPES = (
    (Direction.REDUCE, Basis.YTD_PRO_RATA, "5"),
    (Direction.INCREASE, Basis.RATE, "2.5"),
    (Direction.MAINTAIN, Basis.ROLLING_12_MONTHS, "0"),
    (Direction.INCREASE, Basis.TARGET_COUNT, "10"),
    (Direction.MONITOR, Basis.NONE, None),
)


def whole_measure_rows(measure: Measure) -> rows.Rows:
    """Every row of a measure, from its whole assessment, keyed as the projection keys them."""
    a = assess_measure(measure)
    mid, m = a.id, a.id.int
    definition = (a.id, a.plan_id, a.theme_code, a.number, a.definition)
    return {
        "measures": {(m,): rows.measure_row(*definition, a.status, a.version, a.modified_at)},
        "components": {(m, c.key): rows.component_row(mid, i, c) for i, c in enumerate(a.components)},
        "baselines": {
            (m, key, seq): rows.baseline_row(mid, key, seq, b.record, b.discrepancy_reason, a.definition.basis)
            for key, baselines in a.baselines.items()
            for seq, b in enumerate(baselines, start=1)
        },
        "figures": {
            (m, f.component, f.quarter): rows.figure_row(
                mid,
                f.component,
                f.quarter,
                f.record,
                f.assessment,
                len(a.baselines[f.component]) if f.baseline else None,
            )
            for f in a.figures
        },
        "quarter_results": {
            (m, q.quarter): rows.quarter_row(
                mid, q.quarter, q.computed_status, q.override, q.commentary, q.commentary_at, q.commentary_by
            )
            for q in a.quarters
        },
        # The cycle's rows are no assessment: the measure's own records.
        "owners": {(m,): rows.owner_row(mid, owner)} if (owner := measure.owner) else {},
        "returns": {(m, q): rows.return_row(mid, q, record) for q, record in measure.returns.items()},
    }


class WholeMeasureReference(CurrentState):
    """The reference projection: every row of a measure made again from its whole assessment, every event."""

    def rows_of(self, aggregate: Any) -> rows.Rows:
        return whole_measure_rows(aggregate) if isinstance(aggregate, Measure) else super().rows_of(aggregate)

    def changed_rows(self, event: Any, aggregate: Any, before: rows.Rows) -> rows.Rows | None:
        return None


def table_contents(database_url: str) -> dict[str, list[tuple[Any, ...]]]:
    with psycopg.connect(database_url) as conn:
        # Sorted in Python: rows of one key at several positions have no natural SQL order.
        return {t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in TABLES}  # noqa: S608


def amount(rng: random.Random, basis: Basis | None) -> Any:
    if basis is Basis.RATE or rng.random() < 0.15:
        denominator = rng.randint(1, 80)
        numerator = rng.randint(0, denominator)
        # Sometimes a stated rate that its fraction contradicts: a discrepancy.
        stated = str(rng.randint(0, 100)) if rng.random() < 0.5 else None
        return parse_amount(stated, str(numerator), str(denominator))
    # Zero now and then: a zero baseline leaves the change undefined.
    return parse_amount(str(rng.choice((0, rng.randint(1, 3000), rng.randint(1, 3000)))), None, None)


def storm(ledger: Ledger, measures: list[UUID], rng: random.Random, steps: int) -> int:
    """Seeded random commands across measures, interleaved; refused ones are skipped. Returns how many took."""
    done = 0
    for _ in range(steps):
        mid = rng.choice(measures)
        m = ledger.get_measure(mid)
        keys = [c.key for c in m.definition.components]
        key = rng.choice(keys + ["gone"] if rng.random() < 0.05 else keys)
        quarter = rng.choice(tuple(Quarter))
        basis = m.definition.basis
        draw = rng.random()
        try:
            if rng.random() < 0.12:
                _cycle_step(ledger, m, quarter, rng)
            elif draw < 0.25:
                reported = str(rng.randint(-60, 60)) if rng.random() < 0.4 else None
                ledger.handle(
                    commands.SubmitFigure(mid, key, quarter, amount(rng, basis), reported_change=reported), OFFICER
                )
            elif draw < 0.40:
                commentary = f"revised {rng.random():.3f}" if rng.random() < 0.5 else None
                ledger.handle(
                    commands.ReviseFigure(mid, key, quarter, amount(rng, basis), reason="late", commentary=commentary),
                    OFFICER,
                )
            elif draw < 0.47:
                ledger.handle(commands.MarkFigureUnavailable(mid, key, quarter, reason="not collected"), OFFICER)
            elif draw < 0.57:
                profile: list[object] | None = [rng.randint(0, 900) for _ in range(4)] if rng.random() < 0.3 else None
                if m.baselines.get(key):
                    ledger.handle(
                        commands.ResetBaseline(mid, key, amount(rng, basis), reason="rebased", profile=profile), OFFICER
                    )
                else:
                    ledger.handle(
                        commands.SetBaseline(mid, key, amount(rng, basis), period="2011/12", profile=profile), OFFICER
                    )
            elif draw < 0.67:
                text = rng.choice((None, f"{m.number} {quarter.value}: on course", "awaiting returns"))
                ledger.handle(commands.UpdateCommentary(mid, quarter, text), OFFICER)
            elif draw < 0.77:
                ledger.handle(
                    commands.OverrideStatus(mid, quarter, rng.choice(STATUSES), reason="local knowledge"), OFFICER
                )
            elif draw < 0.87:
                ledger.handle(commands.ClearStatusOverride(mid, quarter, reason="back to the rules"), AUDITOR)
            else:
                direction, new_basis, tolerance = rng.choice(SHAPES)
                kept = rng.sample(keys, rng.randint(0, len(keys)))
                added = [f"extra-{rng.randint(1, 3)}"] if rng.random() < 0.5 or not kept else []
                components: list[tuple[object, object]] = [(k, f"Component {k}") for k in dict.fromkeys(kept + added)]
                definition = parse_definition(
                    title=f"Redefined {m.number} {rng.randint(1, 99)}",
                    description=rng.choice((None, "changed")),
                    direction=direction,
                    basis=new_basis,
                    tolerance=tolerance,
                    unit=None,
                    components=components,
                )
                ledger.handle(commands.RedefineMeasure(mid, definition, reason="new national definition"), OFFICER)
            done += 1
        except DomainError:
            continue
    return done


def _cycle_step(ledger: Ledger, m: Measure, quarter: Quarter, rng: random.Random) -> None:
    """The next step of a quarter's return, or a new owner: whatever its state allows."""
    state = m.return_state(quarter)
    if rng.random() < 0.15:
        ledger.handle(
            commands.AssignOwner(m.id, f"owner{rng.randint(1, 9)}@x.example", "Police", reason="moved"), AUDITOR
        )
    elif state is ReturnState.SUBMITTED:
        if rng.random() < 0.5:
            ledger.handle(commands.ApproveReturn(m.id, quarter), AUDITOR)
        else:
            ledger.handle(commands.SendBackReturn(m.id, quarter, reason="check it"), AUDITOR)
    elif state is ReturnState.APPROVED:
        ledger.handle(commands.ReopenReturn(m.id, quarter, reason="a correction"), AUDITOR)
    else:
        ledger.handle(commands.SubmitReturn(m.id, quarter), OFFICER)


def _plan_cycle(ledger: Ledger, plan_id: UUID) -> None:
    """Each quarter opened, its date moved, and published (forced, with whatever is outstanding)."""
    for quarter in Quarter:
        due = quarter_end(date(2013, 4, 1), quarter) + timedelta(days=31)
        ledger.handle(commands.OpenCollection(plan_id, quarter, due), AUDITOR)
        for days in (7, 14):
            ledger.handle(commands.ChangeDueDate(plan_id, quarter, due + timedelta(days), reason="holidays"), AUDITOR)
        facts = PublicationFacts(None, (Outstanding("1.1", "SUBMITTED"),))
        publish = commands.PublishQuarter(plan_id, quarter, "Board", due, facts, force=True, reason="late")
        ledger.handle(publish, AUDITOR)


def varied_ledger(ledger: Ledger) -> None:
    generate(ledger, Size(partnerships=2, measures=6, years=2), seed=13, progress=False)
    report = import_plan(ledger, load_plan_file(DEMO), "importer")
    plan_id = a_plan(
        ledger, "Storm plan", partnership="Safer Stockton Partnership", start_year=2013, theme=("1", "Everything")
    )
    fresh = [
        a_measure(ledger, plan_id, f"1.{n + 1}", theme_code="1", direction=direction, basis=basis,
                  tolerance=tolerance, components=[("a", "A"), ("b", "B")][: 1 + n % 2], baseline=None)
        for n, (direction, basis, tolerance) in enumerate(SHAPES)
    ]  # fmt: skip
    demo = [Measure.create_id(report.plan_id, f"{t}.{n}") for t, n in ((1, 3), (3, 1), (3, 4), (4, 3), (6, 1), (5, 1))]
    assert storm(ledger, demo + fresh, random.Random(2012), steps=500) > 250
    _plan_cycle(ledger, plan_id)


@pytest.fixture
def ledger(es_env: dict[str, str]) -> Iterator[Ledger]:
    app = Ledger(env=es_env)
    varied_ledger(app)
    yield app
    app.close()


def project(
    ledger: Ledger, es_env: dict[str, str], database_url: str, projection: type[CurrentState] = CurrentState
) -> dict[str, list[Any]]:
    """Empty the read model and replay every event with a `projection`."""
    view = open_view(es_env)
    try:
        view.clear()
        catch_up(ledger, projection(view, ledger))
    finally:
        view.datastore.close()
    return table_contents(database_url)


@pytest.mark.parametrize("write_batch", [projections.catch_up.WRITE_BATCH, 97])
def test_incremental_rows_equal_whole_measure_recomputation(
    ledger: Ledger, es_env: dict[str, str], database_url: str, write_batch: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    reference = project(ledger, es_env, database_url, WholeMeasureReference)
    # 97: many transactions, each written on the writer thread while the next is computed, and
    # split inside a measure's run of events, so rows opened in one are closed in a later one.
    monkeypatch.setattr(projections.catch_up, "WRITE_BATCH", write_batch)
    incremental = project(ledger, es_env, database_url)

    assert len(reference["audit_entries"]) == ledger.recorder.max_notification_id()
    assert len(reference["status_changes"]) > 100
    actions = Counter(row[3] for row in reference["audit_entries"])
    assert set(actions) == EVENTS and min(actions.values()) >= 5, actions
    for table in TABLES:
        assert incremental[table] == reference[table], table


def test_pipelined_inserts_write_the_same_rows_as_copy(
    ledger: Ledger, es_env: dict[str, str], database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The live projection's small batches go in as pipelined INSERTs, catch-ups' as COPY: the same rows."""
    monkeypatch.setattr(
        projections.catch_up, "WRITE_BATCH", 97
    )  # rows opened by one transaction, closed by a later one
    monkeypatch.setattr(projections.view, "PIPELINED_ROWS", 0)
    copied = project(ledger, es_env, database_url)
    monkeypatch.setattr(projections.view, "PIPELINED_ROWS", 10**9)
    inserted = project(ledger, es_env, database_url)

    # Every kind of value goes through both: a baseline profile (a numeric array) among them.
    assert len(copied["status_changes"]) > 100
    assert any(isinstance(value, list) for row in copied["baselines"] for value in row)
    for table in TABLES:
        assert inserted[table] == copied[table], table


def test_one_event_per_transaction_with_a_cold_cache_writes_the_same(
    ledger: Ledger, es_env: dict[str, str], database_url: str
) -> None:
    """The live path: a transaction per event, and aggregates reloaded from the store on cache misses."""
    reference = project(ledger, es_env, database_url, WholeMeasureReference)
    view = open_view(es_env)
    try:
        view.clear()
        live = CurrentState(view, ledger)
        live.cache_size = 2  # measures are interleaved: most events miss the cache
        for notification in ledger.recorder.select_notifications(start=1, limit=10_000):
            live.process_event(ledger.mapper.to_domain_event(notification), Tracking(ledger.name, notification.id))
    finally:
        view.datastore.close()

    assert table_contents(database_url) == reference
