"""A helper process started with `parent_env` ends when its parent is killed outright."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# The parent starts a child that ties itself to it, prints the child's pid, and sleeps.
PARENT = """
import subprocess, sys, time
from projections.orphans import parent_env
child = subprocess.Popen(
    [sys.executable, "-c", "from projections.orphans import exit_with_parent; exit_with_parent(); import time; "
     "print('tied', flush=True); time.sleep(60)"],
    env={**__import__("os").environ, **parent_env()}, stdout=subprocess.PIPE, text=True,
)
assert child.stdout.readline().strip() == "tied"
print(child.pid, flush=True)
time.sleep(60)
"""


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
