"""The projection in a process of its own, beside the web processes (`ML_PROJECTOR=process`, the default).

Why a process: in a web process the projection's thread shares the interpreter lock with every
request, and under write load it is a quarter of that process's CPU (py-spy, bench/profile_submit.py).
In its own process it runs on another core, and a web process serves about a third more writes a
second (docs/performance.md).

Nothing is lost if it dies: every web process still runs the projection's runner on standby, trying
the leader's advisory lock every two seconds (projections/runner.py `run_projection`), so one of them
takes the lead, as it would among many service processes sharing one database. Nor if it wedges: a
process on standby replaces a leader that projects nothing while events wait (projections/stall.py).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from projections.runner import leaders
from projections.runtime import parent_env

log = logging.getLogger(__name__)

PROCESS, THREAD = "process", "thread"
CHOICES = (PROCESS, THREAD)


@contextmanager
def cli_process(
    command: str,
    database_url: str,
    *,
    env: Mapping[str, str] | None = None,
    output: int | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """`measure-ledger COMMAND` against `database_url`, ending with this process, until the block ends.

    `output` (e.g. subprocess.DEVNULL) replaces its stdout and stderr, which are otherwise this process's;
    `env` adds to this process's environment.
    """
    environ = {**os.environ, **(env or {}), **parent_env(), "DATABASE_URL": database_url}
    process = subprocess.Popen(
        [sys.executable, "-m", "service.cli", command], env=environ, stdout=output, stderr=output
    )
    try:
        yield process
    finally:
        stop(process)


@contextmanager
def projector_process(
    database_url: str,
    *,
    env: Mapping[str, str] | None = None,
    wait_seconds: float = 60.0,
    output: int | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """`measure-ledger project` against `database_url`, until the block ends.

    The block starts once some process leads the projection: this one, normally, or one that was leading
    already (another service sharing the database), in which case this one waits on standby.
    """
    with cli_process("project", database_url, env=env, output=output) as process:
        _until_led(database_url, process, wait_seconds)
        yield process


def stop(process: subprocess.Popen[Any], seconds: float = 20.0) -> None:
    """SIGTERM, then SIGKILL if it has not ended after `seconds`."""
    process.terminate()
    try:
        process.wait(seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


def _until_led(database_url: str, process: subprocess.Popen[bytes], wait_seconds: float) -> None:
    deadline = time.monotonic() + wait_seconds
    while not leaders(database_url):
        if process.poll() is not None:
            # The web processes' standby runners lead instead: the service still works.
            log.warning("the projector process exited (status %s); the web processes will project", process.returncode)
            return
        if time.monotonic() > deadline:
            log.warning("no projection leader after %.0f s; starting the web processes anyway", wait_seconds)
            return
        time.sleep(0.05)
