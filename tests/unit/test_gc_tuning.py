"""The service's garbage-collector thresholds: a default for many WebSockets, overridable, checked."""

import pytest

from service.gc_tuning import DEFAULT, parse_thresholds


def test_no_setting_gives_the_default_for_a_server_with_many_sockets() -> None:
    assert parse_thresholds(None) == DEFAULT
    assert parse_thresholds("") == DEFAULT
    assert DEFAULT[0] > 700  # a larger young generation than CPython's default


def test_cpythons_own_thresholds_can_be_restored() -> None:
    assert parse_thresholds("700,10,10") == (700, 10, 10)


@pytest.mark.parametrize("text", ["700,10", "a,b,c", "700,10,10,1", "-1,10,10", "700;10;10"])
def test_a_malformed_setting_is_refused_with_what_was_expected(text: str) -> None:
    with pytest.raises(ValueError, match="ML_GC_THRESHOLDS must be three whole numbers"):
        parse_thresholds(text)
