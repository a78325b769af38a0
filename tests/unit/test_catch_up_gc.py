"""A rebuild's catch-up runs without the cyclic collector, and gives the process its own back."""

from __future__ import annotations

import gc

import pytest

from projections.runner import CATCH_UP_GC, _catching_up


@pytest.mark.parametrize("collect_cycles", [True, False])
def test_collector_restored(collect_cycles: bool) -> None:
    thresholds = gc.get_threshold()
    assert gc.isenabled()
    with _catching_up(collect_cycles):
        assert gc.isenabled() is collect_cycles
        assert gc.get_threshold()[0] >= CATCH_UP_GC[0]
    assert gc.isenabled()
    assert gc.get_threshold() == thresholds


def test_collector_restored_after_an_error() -> None:
    with pytest.raises(RuntimeError), _catching_up(collect_cycles=False):
        raise RuntimeError
    assert gc.isenabled()


def test_a_collector_already_off_stays_off() -> None:
    gc.disable()
    try:
        with _catching_up(collect_cycles=False):
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()
