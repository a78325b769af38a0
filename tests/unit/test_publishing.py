"""A plan's collections and publications, through the Ledger: due dates, forcing, and publishing twice."""

from __future__ import annotations

from datetime import date
from uuid import UUID

import pytest

from domain.commands import ChangeDueDate, OpenCollection, PublishQuarter
from domain.errors import ValidationError
from domain.ledger import Ledger, Request
from domain.plan import Plan
from domain.publishing import Outstanding, PublicationFacts, quarter_end
from domain.values import Quarter
from tests.unit.test_ledger_popo import create_plan

Q1, Q2, Q3 = Quarter.Q1, Quarter.Q2, Quarter.Q3
LEAD = Request(actor="performance.lead@stockton.example")
BOARD = "Partnership board, 25 September 2012"


@pytest.fixture
def app() -> Ledger:
    return Ledger(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})


@pytest.fixture
def plan_id(app: Ledger) -> UUID:
    return create_plan(app)


def publish(plan_id: UUID, facts: PublicationFacts, quarter: Quarter = Q1, **more: object) -> PublishQuarter:
    return PublishQuarter(plan_id, quarter, BOARD, date(2012, 9, 25), facts, **more)  # type: ignore[arg-type]


def refused(app: Ledger, command: object) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        app.handle(command, LEAD)  # type: ignore[arg-type]
    return caught.value


@pytest.mark.parametrize(
    ("start", "quarter", "end"),
    [
        (date(2012, 4, 1), Q1, date(2012, 6, 30)),
        (date(2012, 4, 1), Q3, date(2012, 12, 31)),
        (date(2012, 4, 1), Quarter.Q4, date(2013, 3, 31)),
        (date(2013, 1, 1), Q2, date(2013, 6, 30)),
    ],
)
def test_a_quarter_ends_three_months_on_from_the_last(start: date, quarter: Quarter, end: date) -> None:
    assert quarter_end(start, quarter) == end


def test_a_collection_is_due_after_its_quarter_ends_and_its_date_moves_only_with_a_reason(
    app: Ledger, plan_id: UUID
) -> None:
    assert refused(app, OpenCollection(plan_id, Q3, date(2012, 12, 31))).field == "dueOn"
    app.handle(OpenCollection(plan_id, Q3, date(2013, 1, 31)), LEAD)

    assert "changeDueDate" in refused(app, OpenCollection(plan_id, Q3, date(2013, 2, 28))).message
    assert refused(app, ChangeDueDate(plan_id, Q3, date(2013, 2, 28), reason="")).field == "reason"
    app.handle(ChangeDueDate(plan_id, Q3, date(2013, 2, 28), reason="Christmas"), LEAD)

    collection = app.get_plan(plan_id).collections[Q3]
    assert collection.due_on == date(2013, 2, 28) and collection.changed is not None
    assert collection.changed.reason == "Christmas"


def test_a_quarter_with_returns_outstanding_is_published_only_when_forced_with_a_reason(
    app: Ledger, plan_id: UUID
) -> None:
    waiting = PublicationFacts(7, (Outstanding("5.2", "OUTSTANDING"), Outstanding("3.2", "SUBMITTED")))

    error = refused(app, publish(plan_id, waiting))
    assert error.field == "force" and "5.2 (OUTSTANDING)" in error.message
    assert refused(app, publish(plan_id, waiting, force=True)).field == "reason"
    assert app.get_plan(plan_id).publications == []

    app.handle(publish(plan_id, waiting, force=True, reason="5.2 blank in the report"), LEAD)

    (published,) = app.get_plan(plan_id).publications
    assert published.forced and published.position == 7 and published.stamp.reason == "5.2 blank in the report"
    assert [o.number for o in published.outstanding] == ["5.2", "3.2"]


def test_a_quarter_is_published_again_only_when_the_plan_changed_since(app: Ledger, plan_id: UUID) -> None:
    app.handle(publish(plan_id, PublicationFacts(10, last_change=9)), LEAD)

    error = refused(app, publish(plan_id, PublicationFacts(12, last_change=9)))
    assert "nothing in the plan has changed" in error.message
    app.handle(publish(plan_id, PublicationFacts(12, last_change=11)), LEAD)
    app.handle(publish(plan_id, PublicationFacts(12, last_change=9), quarter=Q2), LEAD)

    first, second, other = app.get_plan(plan_id).publications
    assert (first.quarter, second.quarter, other.quarter) == (Q1, Q1, Q2)
    assert len({first.id, second.id, other.id}) == 3


def test_a_publication_without_a_gathered_position_fixes_the_last_recorded_one(app: Ledger, plan_id: UUID) -> None:
    last = app.recorder.max_notification_id()

    app.handle(publish(plan_id, PublicationFacts(None)), LEAD)

    plan: Plan = app.get_plan(plan_id)
    assert plan.publications[0].position == last
