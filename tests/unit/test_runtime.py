"""Process settings: the service's collector thresholds, the settings a catch-up borrows and gives back,
and a helper process started with `parent_env` that ends when its parent is killed outright."""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from projections.runtime import CATCH_UP_SWITCH, GC_THRESHOLDS, catching_up, parse_thresholds

ROOT = Path(__file__).resolve().parents[2]

# The parent starts a child that ties itself to it, prints the child's pid, and sleeps.
PARENT = """
import subprocess, sys, time
from projections.runtime import parent_env
child = subprocess.Popen(
    [sys.executable, "-c", "from projections.runtime import exit_with_parent; exit_with_parent(); import time; "
     "print('tied', flush=True); time.sleep(60)"],
    env={**__import__("os").environ, **parent_env()}, stdout=subprocess.PIPE, text=True,
)
assert child.stdout.readline().strip() == "tied"
print(child.pid, flush=True)
time.sleep(60)
"""


def test_no_setting_gives_the_default_for_a_server_with_many_sockets() -> None:
    assert parse_thresholds(None) == GC_THRESHOLDS
    assert parse_thresholds("") == GC_THRESHOLDS
    assert GC_THRESHOLDS[0] > 700  # a larger young generation than CPython's default


def test_cpythons_own_thresholds_can_be_restored() -> None:
    assert parse_thresholds("700,10,10") == (700, 10, 10)


@pytest.mark.parametrize("text", ["700,10", "a,b,c", "700,10,10,1", "-1,10,10", "700;10;10"])
def test_a_malformed_setting_is_refused_with_what_was_expected(text: str) -> None:
    with pytest.raises(ValueError, match="ML_GC_THRESHOLDS must be three whole numbers"):
        parse_thresholds(text)


def test_a_catch_up_gives_back_the_processs_gc_and_switch_settings() -> None:
    thresholds, interval = gc.get_threshold(), sys.getswitchinterval()
    try:
        gc.set_threshold(700, 10, 10)
        sys.setswitchinterval(0.005)
        with catching_up():
            assert gc.get_threshold() == GC_THRESHOLDS
            assert sys.getswitchinterval() == pytest.approx(CATCH_UP_SWITCH)
        assert gc.get_threshold() == (700, 10, 10)
        assert sys.getswitchinterval() == pytest.approx(0.005)
        # A process tuned further than the catch-up would is left as it is.
        gc.set_threshold(50_000, 5, 20)
        sys.setswitchinterval(0.0005)
        with catching_up():
            assert gc.get_threshold() == (50_000, 5, 20)
            assert sys.getswitchinterval() == pytest.approx(0.0005)
    finally:
        gc.set_threshold(*thresholds)
        sys.setswitchinterval(interval)


@pytest.mark.parametrize("collect_cycles", [True, False])
def test_a_rebuilds_catch_up_runs_without_the_cyclic_collector_and_gives_it_back(collect_cycles: bool) -> None:
    thresholds = gc.get_threshold()
    assert gc.isenabled()
    with catching_up(collect_cycles):
        assert gc.isenabled() is collect_cycles
        assert gc.get_threshold()[0] >= GC_THRESHOLDS[0]
    assert gc.isenabled()
    assert gc.get_threshold() == thresholds


def test_the_collector_is_given_back_after_an_error() -> None:
    with pytest.raises(RuntimeError), catching_up(collect_cycles=False):
        raise RuntimeError
    assert gc.isenabled()


def test_a_collector_already_off_stays_off() -> None:
    gc.disable()
    try:
        with catching_up(collect_cycles=False):
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has ended; only its exit status waits to be collected


def test_a_child_tied_to_its_parent_ends_when_the_parent_is_killed() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    parent = subprocess.Popen([sys.executable, "-c", PARENT], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        assert _alive(child)
        parent.kill()  # SIGKILL: no chance to stop the child itself
        parent.wait()
        deadline = time.monotonic() + 10
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(child), "the child outlived its killed parent"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        if parent.stdout is not None:
            parent.stdout.close()


def test_without_the_tie_a_child_outlives_its_killed_parent() -> None:
    """The control: the same parent, its child not tied, leaves the child running."""
    untied = PARENT.replace("exit_with_parent(); ", "").replace("**parent_env()", "")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    parent = subprocess.Popen([sys.executable, "-c", untied], env=env, stdout=subprocess.PIPE, text=True)
    child = 0
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        parent.kill()
        parent.wait()
        time.sleep(0.5)
        assert _alive(child)
    finally:
        if child:
            os.kill(child, signal.SIGKILL)
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        if parent.stdout is not None:
            parent.stdout.close()
