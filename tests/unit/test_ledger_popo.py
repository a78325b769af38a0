"""The Ledger application on the in-memory (POPO) persistence: versions, retries, uniqueness."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import IntegrityError

from domain.commands import AddTheme, CreatePlan, DefineMeasure, OverrideStatus, ReviseFigure, SetBaseline, SubmitFigure
from domain.definition import Definition, parse_definition
from domain.errors import ConflictError, NotFoundError, ValidationError
from domain.ledger import Ledger, Request
from domain.measure import Measure
from domain.plan import Plan
from domain.values import Amount, Basis, Direction, Quarter, Status, parse_amount

OFFICER = Request(actor="officer@stockton.gov.uk")


def count(value: int) -> Amount:
    return parse_amount(value, None, None)


def criminal_damage() -> Definition:
    return parse_definition(
        title="Reduce criminal damage",
        description=None,
        direction=Direction.REDUCE,
        basis=Basis.YTD_PRO_RATA,
        tolerance=None,
        unit="crimes",
        components=[("all", "All criminal damage")],
    )


@pytest.fixture
def app() -> Ledger:
    return Ledger(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})


CSP = CreatePlan(
    partnership="Safer Stockton Partnership",
    title="Community Safety Plan 2012-13",
    year="2012-13",
    period_start=date(2012, 4, 1),
    period_end=date(2013, 3, 31),
)


def create_plan(app: Ledger, req: Request = OFFICER, title: str = "Community Safety Plan 2012-13") -> UUID:
    return app.handle(replace(CSP, title=title), req).id


@pytest.fixture
def plan_id(app: Ledger) -> UUID:
    plan = create_plan(app)
    app.handle(AddTheme(plan, code="5", title="Criminal damage targets"), OFFICER)
    return plan


@pytest.fixture
def measure_id(app: Ledger, plan_id: UUID) -> UUID:
    written = app.handle(DefineMeasure(plan_id, theme_code="5", number="5.1", definition=criminal_damage()), OFFICER)
    app.handle(SetBaseline(written.id, "all", count(2472), period="2011/12"), OFFICER)
    return written.id


def recorded(app: Ledger) -> int:
    return len(app.recorder.select_notifications(start=1, limit=1000))


def keyed(key: str, expected_version: int | None = None) -> Request:
    return Request(actor=OFFICER.actor, expected_version=expected_version, idempotency_key=key)


# -- the in-memory store --------------------------------------------------------------


def test_the_ledger_runs_on_the_in_memory_persistence(app: Ledger) -> None:
    plan = create_plan(app)

    stored = app.get_plan(plan)

    assert type(app.recorder).__module__ == "eventsourcing.popo"
    assert isinstance(stored, Plan)
    assert (stored.title, stored.period_start, stored.created_by) == (
        "Community Safety Plan 2012-13",
        date(2012, 4, 1),
        OFFICER.actor,
    )
    assert stored.discrepancy_threshold == Decimal("1.0")


def test_each_write_says_where_it_landed(app: Ledger, measure_id: UUID) -> None:
    written = app.handle(SubmitFigure(measure_id, "all", Quarter.Q1, count(492)), OFFICER)

    assert (written.id, written.version, written.replayed) == (measure_id, 3, False)
    assert written.position == recorded(app)


# -- expected version ---------------------------------------------------------------


def test_a_write_from_a_stale_version_is_a_conflict_naming_the_current_version(app: Ledger, measure_id: UUID) -> None:
    app.handle(SubmitFigure(measure_id, "all", Quarter.Q1, count(492)), Request(OFFICER.actor, expected_version=2))
    before = recorded(app)

    with pytest.raises(ConflictError) as caught:
        app.handle(SubmitFigure(measure_id, "all", Quarter.Q2, count(995)), Request(OFFICER.actor, expected_version=2))

    error = caught.value
    assert error.field == "expectedVersion"
    assert error.code == "CONFLICT"
    assert error.current_version == 3
    assert "version 3" in error.message
    assert recorded(app) == before
    assert ("all", Quarter.Q2) not in app.get_measure(measure_id).figures


def test_a_write_from_the_current_version_succeeds(app: Ledger, measure_id: UUID) -> None:
    written = app.handle(
        SubmitFigure(measure_id, "all", Quarter.Q1, count(492)), Request(OFFICER.actor, expected_version=2)
    )

    assert written.version == 3


def test_a_theme_added_from_a_stale_plan_version_is_a_conflict(app: Ledger, plan_id: UUID) -> None:
    with pytest.raises(ConflictError) as caught:
        app.handle(AddTheme(plan_id, code="6", title="Emerging issues"), Request(OFFICER.actor, expected_version=1))

    assert caught.value.current_version == 2


def test_two_officers_writing_to_one_measure_from_the_same_version_conflict(app: Ledger, measure_id: UUID) -> None:
    # Both read version 2; the second to save must not be merged silently.
    mine = app.get_measure(measure_id)
    theirs = app.get_measure(measure_id)
    mine.submit_figure("all", Quarter.Q1, count(492), actor="me")
    theirs.submit_figure("all", Quarter.Q1, count(500), actor="them")
    app.save(mine)

    with pytest.raises(IntegrityError):
        app.save(theirs)

    assert app.get_measure(measure_id).figures[("all", Quarter.Q1)].stamp.by == "me"


# -- idempotency keys ---------------------------------------------------------------


def test_a_retry_with_the_same_key_returns_the_first_result_and_records_nothing_new(
    app: Ledger, measure_id: UUID
) -> None:
    first = app.handle(SubmitFigure(measure_id, "all", Quarter.Q1, count(492)), keyed("q1-5.1"))
    after_first = recorded(app)

    retry = app.handle(SubmitFigure(measure_id, "all", Quarter.Q1, count(492)), keyed("q1-5.1"))

    assert first.replayed is False
    assert retry.replayed is True
    assert (retry.id, retry.version) == (first.id, first.version)
    assert retry.position is None
    assert recorded(app) == after_first
    assert app.get_measure(measure_id).version == first.version


def test_a_retry_succeeds_even_after_the_measure_has_moved_on(app: Ledger, measure_id: UUID) -> None:
    first = app.handle(SubmitFigure(measure_id, "all", Quarter.Q1, count(492)), keyed("q1-5.1", expected_version=2))
    app.handle(SubmitFigure(measure_id, "all", Quarter.Q2, count(995)), OFFICER)

    retry = app.handle(SubmitFigure(measure_id, "all", Quarter.Q1, count(492)), keyed("q1-5.1", expected_version=2))

    assert retry.replayed is True
    assert retry.version == first.version


def test_a_retried_plan_creation_returns_the_same_plan(app: Ledger) -> None:
    first = create_plan(app, keyed("create-csp"))
    after_first = recorded(app)

    again = create_plan(app, keyed("create-csp"))

    assert again == first
    assert recorded(app) == after_first


def test_reusing_a_key_for_a_different_input_is_refused(app: Ledger, measure_id: UUID) -> None:
    app.handle(SubmitFigure(measure_id, "all", Quarter.Q1, count(492)), keyed("q1-5.1"))
    before = recorded(app)

    with pytest.raises(ValidationError) as caught:
        app.handle(SubmitFigure(measure_id, "all", Quarter.Q1, count(490)), keyed("q1-5.1"))

    assert caught.value.field == "idempotencyKey"
    assert recorded(app) == before


def test_reusing_a_key_for_a_different_command_is_refused(app: Ledger, measure_id: UUID) -> None:
    app.handle(SubmitFigure(measure_id, "all", Quarter.Q1, count(492)), keyed("k-1"))

    with pytest.raises(ValidationError) as caught:
        app.handle(OverrideStatus(measure_id, Quarter.Q1, Status.AT_RISK, reason="board decision"), keyed("k-1"))

    assert caught.value.field == "idempotencyKey"


def test_the_same_key_from_another_actor_is_a_different_key(app: Ledger, measure_id: UUID) -> None:
    app.handle(SubmitFigure(measure_id, "all", Quarter.Q1, count(492)), keyed("k-1"))

    written = app.handle(
        SubmitFigure(measure_id, "all", Quarter.Q2, count(995)),
        Request("analyst@stockton.gov.uk", idempotency_key="k-1"),
    )

    assert written.replayed is False


def test_reusing_a_plan_key_with_a_different_discrepancy_threshold_is_refused(app: Ledger) -> None:
    create_plan(app, keyed("create-csp"))

    with pytest.raises(ValidationError) as caught:
        app.handle(
            replace(CSP, discrepancy_threshold=Decimal("0.5")),
            keyed("create-csp"),
        )

    assert caught.value.field == "idempotencyKey"


def test_a_plan_with_a_zero_discrepancy_threshold_is_refused(app: Ledger) -> None:
    with pytest.raises(ValidationError) as caught:
        app.handle(
            replace(CSP, discrepancy_threshold=Decimal(0)),
            OFFICER,
        )

    assert caught.value.field == "discrepancyThreshold"


def test_a_plan_keeps_its_own_discrepancy_threshold_for_its_measures(app: Ledger) -> None:
    plan = app.handle(
        replace(CSP, discrepancy_threshold=Decimal("0.5")),
        OFFICER,
    ).id
    app.handle(AddTheme(plan, code="5", title="Criminal damage targets"), OFFICER)

    written = app.handle(DefineMeasure(plan, theme_code="5", number="5.1", definition=criminal_damage()), OFFICER)

    assert app.get_measure(written.id).discrepancy_threshold == Decimal("0.5")


def test_a_plan_that_ends_before_it_starts_is_refused(app: Ledger) -> None:
    with pytest.raises(ValidationError) as caught:
        app.handle(
            replace(CSP, period_start=date(2013, 3, 31), period_end=date(2012, 4, 1)),
            OFFICER,
        )

    assert caught.value.field == "period.end"


# -- uniqueness and existence -------------------------------------------------------


def test_defining_the_same_measure_number_twice_in_a_plan_is_a_conflict_on_number(
    app: Ledger, plan_id: UUID, measure_id: UUID
) -> None:
    before = recorded(app)

    with pytest.raises(ConflictError) as caught:
        app.handle(DefineMeasure(plan_id, theme_code="5", number="5.1", definition=criminal_damage()), OFFICER)

    assert caught.value.field == "number"
    assert caught.value.current_version == 2
    assert str(measure_id) in caught.value.message
    assert recorded(app) == before


def test_the_same_measure_number_in_another_plan_is_a_different_measure(
    app: Ledger, plan_id: UUID, measure_id: UUID
) -> None:
    other = create_plan(app, title="Community Safety Plan 2013-14")
    app.handle(AddTheme(other, code="5", title="Criminal damage targets"), OFFICER)

    written = app.handle(DefineMeasure(other, theme_code="5", number="5.1", definition=criminal_damage()), OFFICER)

    assert written.id != measure_id
    assert written.id == Measure.create_id(other, "5.1")


def test_defining_a_measure_in_an_unknown_theme_is_not_found_on_theme_code(app: Ledger, plan_id: UUID) -> None:
    with pytest.raises(NotFoundError) as caught:
        app.handle(DefineMeasure(plan_id, theme_code="9", number="9.1", definition=criminal_damage()), OFFICER)

    assert caught.value.field == "themeCode"
    assert "5" in caught.value.message


def test_creating_the_same_plan_twice_is_a_conflict_on_title(app: Ledger) -> None:
    create_plan(app)

    with pytest.raises(ConflictError) as caught:
        create_plan(app, title="community safety plan 2012-13")

    assert caught.value.field == "title"


def test_adding_a_theme_code_twice_is_refused(app: Ledger, plan_id: UUID) -> None:
    with pytest.raises(ValidationError) as caught:
        app.handle(AddTheme(plan_id, code="5", title="Again"), OFFICER)

    assert caught.value.field == "code"


@pytest.mark.parametrize("call", ["get_measure", "get_plan"])
def test_an_unknown_id_is_not_found(app: Ledger, call: str) -> None:
    with pytest.raises(NotFoundError) as caught:
        getattr(app, call)(uuid4())

    assert caught.value.field == {"get_measure": "measureId", "get_plan": "planId"}[call]


def test_a_plan_id_is_not_a_measure(app: Ledger, plan_id: UUID) -> None:
    with pytest.raises(NotFoundError) as caught:
        app.handle(SubmitFigure(plan_id, "all", Quarter.Q1, count(492)), OFFICER)

    assert caught.value.field == "measureId"


def test_a_refused_command_records_nothing(app: Ledger, measure_id: UUID) -> None:
    before = recorded(app)

    with pytest.raises(ValidationError):
        app.handle(ReviseFigure(measure_id, "all", Quarter.Q1, count(490), reason="  "), OFFICER)

    assert recorded(app) == before
