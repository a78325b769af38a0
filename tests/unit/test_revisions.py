"""A revision changes only what it is given, clears only what it names, and is refused when it changes nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest

from domain.errors import NoChangeError, ValidationError
from domain.measure import Measure
from domain.revisions import FieldChange, figure_changes
from domain.values import Amount, Basis, Quarter
from tests.unit.test_measure import OFFICER, count, criminal_damage, define, refused

D = Decimal
Q1 = Quarter.Q1


def reported(m: Measure) -> Measure:
    """5.1 Q1: 492 offences, the report's own change of -16.3 and a commentary."""
    m.submit_figure("all", Q1, count(492), reported_change="-16.3", commentary="late crimes pending", actor=OFFICER)
    return m


def test_a_revision_of_the_value_alone_keeps_the_reported_change_and_the_commentary() -> None:
    m = reported(criminal_damage())

    m.revise_figure("all", Q1, Amount(D(490)), reason="recount", actor=OFFICER)

    figure = m.figures[("all", Q1)]
    assert (figure.amount, figure.reported_change, figure.commentary) == (
        count(490),
        D("-16.3"),
        "late crimes pending",
    )


def test_a_revision_of_the_reported_change_alone_keeps_the_value() -> None:
    m = reported(criminal_damage())

    m.revise_figure("all", Q1, None, reported_change="-20.4", reason="report corrected", actor=OFFICER)

    figure = m.figures[("all", Q1)]
    assert (figure.amount, figure.reported_change, figure.commentary) == (count(492), D("-20.4"), "late crimes pending")


def test_a_field_named_in_clear_is_removed_and_the_others_kept() -> None:
    m = reported(criminal_damage())

    m.revise_figure("all", Q1, None, clear=("REPORTED_CHANGE",), reason="the report states none", actor=OFFICER)

    figure = m.figures[("all", Q1)]
    assert (figure.amount, figure.reported_change, figure.commentary) == (count(492), None, "late crimes pending")


def test_one_part_of_a_rate_can_be_revised_and_the_fraction_cleared_for_a_stated_value() -> None:
    m = define(number="3.4", basis=Basis.RATE)
    m.submit_figure("all", Q1, Amount(None, D(13), D(21)), actor=OFFICER)

    m.revise_figure("all", Q1, Amount(None, D(14), None), reason="one more take-up", actor=OFFICER)
    after_numerator = m.figures[("all", Q1)].amount
    m.revise_figure("all", Q1, Amount(D(67)), clear=("NUMERATOR", "DENOMINATOR"), reason="as stated", actor=OFFICER)

    assert after_numerator == Amount(None, D(14), D(21))
    assert m.figures[("all", Q1)].amount == Amount(D(67))


def test_a_revision_that_changes_nothing_is_refused_and_records_nothing() -> None:
    m = reported(criminal_damage())
    m.collect_events()

    for call in (
        lambda: m.revise_figure("all", Q1, None, reason="again", actor=OFFICER),
        lambda: m.revise_figure("all", Q1, Amount(D("492.0")), reported_change="-16.30", reason="again", actor=OFFICER),
        lambda: m.revise_figure("all", Q1, None, commentary=" late crimes pending ", reason="again", actor=OFFICER),
        lambda: m.revise_figure("all", Q1, Amount(D(492)), clear=("NUMERATOR",), reason="again", actor=OFFICER),
    ):
        error = refused(call, NoChangeError)
        assert error.field == "input"
        assert "changes nothing" in error.message
    assert m.collect_events() == []


@pytest.mark.parametrize(
    ("given", "clear", "field"),
    [
        ({"reported_change": "-20"}, ("REPORTED_CHANGE",), "clear"),
        ({}, ("VALUE",), "clear"),
        ({}, ("SIZE",), "clear"),
        ({"commentary": "  "}, (), "commentary"),
    ],
)
def test_a_revision_that_contradicts_itself_or_empties_the_figure_is_refused(
    given: dict[str, object], clear: tuple[str, ...], field: str
) -> None:
    m = reported(criminal_damage())

    error = refused(lambda: m.revise_figure("all", Q1, None, clear=clear, reason="why", actor=OFFICER, **given))

    assert error.field == field
    assert type(error) is ValidationError


def test_a_figure_marked_unavailable_is_revised_only_with_an_amount_and_keeps_its_commentary() -> None:
    m = criminal_damage()
    m.submit_figure("all", Q1, count(492), commentary="as reported", actor=OFFICER)
    m.mark_figure_unavailable("all", Q1, reason="system down", actor=OFFICER)

    error = refused(lambda: m.revise_figure("all", Q1, None, reported_change="-1", reason="back", actor=OFFICER))
    m.revise_figure("all", Q1, Amount(D(495)), reason="system back", actor=OFFICER)

    assert error.field == "value"
    figure = m.figures[("all", Q1)]
    assert (figure.available, figure.amount, figure.commentary) == (True, count(495), "as reported")


def test_the_changes_of_a_revision_are_every_field_it_changed_before_and_after() -> None:
    m = reported(criminal_damage())
    m.mark_figure_unavailable("all", Q1, reason="system down", actor=OFFICER)
    m.revise_figure("all", Q1, Amount(D(495)), reported_change="-20", reason="system back", actor=OFFICER)
    m.revise_figure("all", Q1, None, reported_change="-19.9", reason="rounding", actor=OFFICER)
    submitted, unavailable, back, rounding = m.figure_history[("all", Q1)]

    assert figure_changes(None, submitted) == (
        FieldChange("value", None, "492"),
        FieldChange("reportedChange", None, "-16.3"),
        FieldChange("commentary", None, "late crimes pending"),
        FieldChange("availability", None, "available"),
    )
    assert figure_changes(submitted, unavailable) == (
        FieldChange("value", "492", None),
        FieldChange("reportedChange", "-16.3", None),
        FieldChange("availability", "available", "unavailable: system down"),
    )
    assert figure_changes(unavailable, back) == (
        FieldChange("value", None, "495"),
        FieldChange("reportedChange", None, "-20"),
        FieldChange("availability", "unavailable: system down", "available"),
    )
    assert figure_changes(back, rounding) == (FieldChange("reportedChange", "-20", "-19.9"),)
