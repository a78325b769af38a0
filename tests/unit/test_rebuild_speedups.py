"""The rebuild's shortcuts say what the slow way says: one quarter's status, override audit facts,
binary COPY's column types, and transactions that shrink towards the end."""

from __future__ import annotations

import copy
import random
from dataclasses import fields
from decimal import Decimal
from uuid import UUID

import pytest
from eventsourcing.persistence import Tracking

from domain.assessed import assess_measure, computed_status
from domain.audit import FACT_COLUMNS, FIGURE_EVENTS, describe, figure_facts, show_amount
from domain.definition import parse_definition
from domain.measure import Measure
from domain.records import FigureRecord, Stamp, amount_of, figure_record, stamp_of
from domain.rules import round1, shown
from domain.values import QUARTER_NUMBER, QUARTER_OF, Amount, Basis, Direction, Quarter, Status, parse_amount, plain
from projections.catch_up import LAST_WRITE_BATCH, WRITE_BATCH, write_batch
from projections.current_state import entry
from projections.read_model_tables import DDL, TABLES, TYPES

D = Decimal
OFFICER = "officer@example.gov.uk"


def two_components() -> Measure:
    m = Measure.define(
        plan_id=UUID("6a1f3c2e-0000-4000-8000-000000000001"),
        theme_code="5",
        number="5.1",
        definition=parse_definition(
            title="Reduce criminal damage",
            description=None,
            direction=Direction.REDUCE,
            basis=Basis.YTD_PRO_RATA,
            tolerance=None,
            unit=None,
            components=[("a", "A"), ("b", "B")],
        ),
        discrepancy_threshold=D("1.0"),
        actor=OFFICER,
    )
    m.set_baseline("a", parse_amount(400, None, None), actor=OFFICER)
    m.set_baseline("b", parse_amount(100, None, None), profile=[10, 20, 30, 40], actor=OFFICER)
    m.submit_figure("a", Quarter.Q1, parse_amount(80, None, None), actor=OFFICER)  # on track
    m.submit_figure("b", Quarter.Q1, parse_amount(12, None, None), actor=OFFICER)  # off track
    m.submit_figure("a", Quarter.Q2, parse_amount(200, None, None), actor=OFFICER)  # at risk
    return m


def test_quarter_lookups_agree_with_the_enum() -> None:
    for q in Quarter:
        assert QUARTER_NUMBER[q] == q.number == int(q.value[1])
        assert QUARTER_OF[q.value] is q is Quarter(q.value)


def test_one_quarters_computed_status_is_the_whole_assessments() -> None:
    m = two_components()
    assessed = assess_measure(m)
    for q in Quarter:
        assert computed_status(m, q) is assessed.quarters[QUARTER_NUMBER[q] - 1].computed_status
    statuses = [computed_status(m, q) for q in Quarter]
    assert statuses == [Status.OFF_TRACK, Status.AT_RISK, Status.NO_DATA, Status.NO_DATA]


@pytest.mark.parametrize("existing", [None, Status.ON_TRACK])
def test_override_audit_facts_are_the_whole_assessments(existing: Status | None) -> None:
    m = two_components()
    if existing is not None:
        m.override_status(Quarter.Q1, existing, reason="known", actor=OFFICER)
    m.collect_events()
    m.override_status(Quarter.Q1, Status.AT_RISK, reason="local issue", actor=OFFICER)
    (overridden,) = m.collect_events()
    m.clear_status_override(Quarter.Q1, reason="resolved", actor=OFFICER)
    (cleared,) = m.collect_events()
    before = two_components()
    if existing is not None:
        before.override_status(Quarter.Q1, existing, reason="known", actor=OFFICER)
    q1 = assess_measure(before).quarters[0]
    facts = describe(overridden, before)
    assert (facts.before, facts.after) == (q1.status.value, "AT_RISK")
    before.override_status(Quarter.Q1, Status.AT_RISK, reason="local issue", actor=OFFICER)
    facts = describe(cleared, before)
    assert (facts.before, facts.after) == ("AT_RISK", assess_measure(before).quarters[0].computed_status.value)


def test_a_figure_events_facts_from_the_records_the_apply_made_are_describes() -> None:
    m = two_components()
    m.submit_figure("b", Quarter.Q2, parse_amount(None, 3, 4), reported_change="5", commentary="late", actor=OFFICER)
    m.revise_figure("b", Quarter.Q2, Amount(D("0.75")), reported_change="5.0", reason="as a rate", actor=OFFICER)
    m.mark_figure_unavailable("a", Quarter.Q2, reason="system down", actor=OFFICER)
    m.revise_figure("a", Quarter.Q2, Amount(D(210)), reason="back", actor=OFFICER)
    events = m.collect_events()
    replayed: Measure | None = None
    for event in events:
        if isinstance(event, FIGURE_EVENTS):
            assert replayed is not None
            slot = (event.component, QUARTER_OF[event.quarter])
            old = replayed.figures.get(slot)
            described = describe(event, replayed)
            replayed = event.mutate(replayed)
            assert replayed is not None
            assert figure_facts(event, replayed, old, replayed.figures[slot]) == described
            assert described.changes
            row = entry(event, described, 7, event.timestamp)
            assert tuple(row)[: len(FACT_COLUMNS)] == FACT_COLUMNS
            assert row["changes"] == described.changes
        else:
            replayed = event.mutate(replayed)


def test_a_figure_event_applied_as_the_projection_applies_it_is_as_mutate_leaves_the_measure() -> None:
    m = two_components()
    m.collect_events()
    mutated, applied = copy.deepcopy(m), copy.deepcopy(m)
    m.submit_figure("b", Quarter.Q2, parse_amount(3, None, None), actor=OFFICER)
    m.mark_figure_unavailable("b", Quarter.Q2, reason="system down", actor=OFFICER)
    events = m.collect_events()
    for event in events:
        assert isinstance(event, FIGURE_EVENTS)
        event.mutate(mutated)
        event.apply(applied)  # as projections/current_state.py applies a figure event
        applied.version, applied.modified_on = event.originator_version, event.timestamp
    assert vars(applied) == vars(mutated)


def test_records_made_in_one_step_are_as_their_constructors_make_them() -> None:
    m = two_components()
    m.collect_events()
    m.submit_figure("b", Quarter.Q2, parse_amount(7, 3, 4), reported_change="5", commentary="late", actor=OFFICER)
    (event,) = m.collect_events()
    amount = amount_of(event)
    stamp = stamp_of(event, "why")
    record = figure_record(event, amount, None, "why", None, 1)
    constructed = [
        Amount(D(7), D(3), D(4)),
        Stamp(event.timestamp, OFFICER, "why"),
        FigureRecord(Amount(D(7), D(3), D(4)), D(5), "late", None, 1, Stamp(event.timestamp, OFFICER, "why")),
    ]
    for made, by_constructor in zip([amount, stamp, record], constructed, strict=True):
        assert type(made) is type(by_constructor) and not hasattr(type(made), "__post_init__")
        assert made == by_constructor and hash(made) == hash(by_constructor)
        assert list(vars(made).items()) == list(vars(by_constructor).items())
        assert list(vars(made)) == [f.name for f in fields(made)]


def test_the_catch_ups_tracking_made_in_one_step_is_as_its_constructor_makes_it() -> None:
    made = object.__new__(Tracking)  # as projections/catch_up.py makes it
    object.__setattr__(made, "__dict__", {"application_name": "ledger/share 1 of 2", "notification_id": 7})
    by_constructor = Tracking("ledger/share 1 of 2", 7)
    assert not hasattr(Tracking, "__post_init__") and [f.name for f in fields(Tracking)] == list(vars(made))
    assert made == by_constructor and hash(made) == hash(by_constructor) and vars(made) == vars(by_constructor)


@pytest.mark.parametrize(
    ("amount", "shown"),
    [
        (Amount(D(995)), "995"),
        (Amount(None, D(38), D(76)), "38/76"),
        (Amount(D(56), D(38), D(76)), "56 (38/76)"),
        (None, None),
    ],
)
def test_amounts_show_as_before(amount: Amount | None, shown: str | None) -> None:
    assert show_amount(amount) == shown


def test_a_computed_number_is_shown_as_plain_writes_it_rounded() -> None:
    rng = random.Random(5)
    edges = ["0", "-0", "-0.04", "0.05", "-0.05", "0.95", "-0.95", "12.0", "10", "99.95", "1E+3", "1E-10", "-1E-10"]
    values = [D(v) for v in edges]
    for _ in range(20_000):
        values.append(D(rng.randint(-(10**6), 10**6)) / D(rng.randint(1, 10**4)))
        values.append(D(rng.randint(-5000, 5000)) / 100)
    for value in values:
        assert shown(value) == plain(round1(value)), value


def test_every_column_has_a_type_for_binary_copy() -> None:
    assert set(TYPES) == set(TABLES)
    for table, types in TYPES.items():
        (statement,) = [s for s in DDL if s.startswith(f"CREATE TABLE IF NOT EXISTS {table} (")]
        assert all(column in statement for column in types)
        assert "PRIMARY" not in types and all(t and t[0].isalpha() for t in types.values())
    assert TYPES["baselines"]["profile"] == "numeric[]"
    assert TYPES["figures"]["valid_to"] == "bigint"


def test_write_batches_shrink_towards_the_end() -> None:
    assert write_batch(100_000) == WRITE_BATCH
    assert write_batch(3_000) == 1_000
    assert write_batch(10) == LAST_WRITE_BATCH
