"""How the report writes numbers, changes and statuses."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from service.report import marks
from service.report.render import css_string


@pytest.mark.parametrize(
    ("value", "text"), [(D("2472"), "2,472"), (D("14965.00"), "14,965"), (D("23.2"), "23.2"), (D("-3"), "−3")]
)
def test_figures_are_written_with_thousands_separated_and_no_trailing_zeros(value: D, text: str) -> None:
    assert marks.number(value) == text


@pytest.mark.parametrize(
    ("change", "points", "text"),
    [
        (D("-19.498"), False, "−19.5 %"),
        (D("22.449"), False, "+22.4 %"),
        (D("-0.25"), False, "−0.3 %"),  # half away from zero, as docs/rules.md says
        (D("0"), False, "0.0 %"),
        (D("-16.37"), True, "−16.4 points"),
        (None, False, None),
    ],
)
def test_changes_are_rounded_half_up_to_one_place_signed_in_percent_or_points(
    change: D | None, points: bool, text: str | None
) -> None:
    assert marks.change(change, points) == text


def test_a_rate_shows_what_its_fraction_works_out_to_and_the_fraction() -> None:
    assert marks.amount(None, D(13), D(21), rate=True) == "61.9 % (13 of 21)"
    assert marks.amount(D(56), D(38), D(76), rate=True) == "50.0 % (38 of 76)"
    assert marks.amount(D("23.2"), None, None, rate=True) == "23.2 %"
    assert marks.amount(D(392), None, None, rate=False) == "392"


def test_every_status_has_a_symbol_and_words_of_its_own() -> None:
    symbols = {m.symbol for m in marks.MARKS.values()}
    words = {m.words for m in marks.MARKS.values()}

    assert set(marks.MARKS) == set(marks.ORDER) == {"ON_TRACK", "AT_RISK", "OFF_TRACK", "NO_DATA", "NOT_ASSESSED"}
    assert len(symbols) == len(words) == 5


def test_a_title_in_the_printed_pages_footer_can_neither_end_its_string_nor_its_style_element() -> None:
    escaped = css_string('Safer & "Co" </style><script>')

    assert escaped == "Safer \\26  \\22 Co\\22  \\3c /style\\3e \\3c script\\3e "
