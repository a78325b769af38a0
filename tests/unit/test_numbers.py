"""Every number the ledger writes is written one way: plain digits, no trailing zeros, no exponent."""

from __future__ import annotations

from decimal import Decimal

import pytest

from domain.values import plain


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("75.00", "75"),  # 3 of 4, times 100
        ("6.2500", "6.25"),  # 1 of 16, times 100
        ("200", "200"),
        ("1E+3", "1000"),
        ("-0.0", "0"),
        ("0E-7", "0"),
        ("-19.5", "-19.5"),
        ("-20.0", "-20"),
        ("1.5E-10", "0.00000000015"),
        ("61.90476190476190476190476190", "61.9047619047619047619047619"),
    ],
)
def test_a_number_is_written_in_plain_digits_without_trailing_zeros(value: str, written: str) -> None:
    assert plain(Decimal(value)) == written
    assert Decimal(written) == Decimal(value)
