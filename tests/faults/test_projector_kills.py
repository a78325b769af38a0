"""The projector killed while it catches up, and a rebuild in shares killed beside a running service: what
the next run makes is what a rebuild from the store makes, and the served read model never shows a
partial rebuild."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from bench.generate import Size
from projections.runner import leaders
from tests.e2e.processes import children_of, handles, interrupt
from tests.e2e.test_cli_import import run
from tests.e2e.test_leadership import a_ledger
from tests.e2e.test_serve_command import CLI
from tests.faults.checks import (
    assert_read_model_is_a_rebuild,
    assert_verified,
    assert_whole,
    figures,
    projected,
    until_projected,
)
from tests.faults.conftest import measures_to_write_on
from tests.faults.load import Writers, write
from tests.faults.served import Served
from tests.integration.test_projection import snapshot

pytestmark = [pytest.mark.faults, pytest.mark.slow]

LEDGER = Size(8, 20, 2)  # some 3,400 events
# A rebuild in shares of the small ledger can end within half a second on a quiet machine: this one
# lasts long enough for each kill to land mid-way.
REBUILD_LEDGER = Size(8, 20, 8)


def started(database_url: str, *command: str, output: Path) -> subprocess.Popen[bytes]:
    with open(output, "ab") as log:
        return subprocess.Popen(
            [str(CLI), *command], env={**os.environ, "DATABASE_URL": database_url}, stdout=log, stderr=log
        )


def until(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def handling_stops(project: subprocess.Popen[bytes]) -> None:
    """Until `project` handles SIGTERM and SIGINT (service/stopping.py), so that a stop is handled as an operator's
    is and does not meet the disposition the process inherited. A projector whose predecessor had caught up was
    signalled within milliseconds of its start: SIGTERM's default ended it before it ran, and SIGINT, ignored
    where the test run was started without a terminal, was lost and left it leading."""
    until(lambda: handles(project.pid, signal.SIGTERM, signal.SIGINT) or project.poll() is not None, "no handlers")


def end(project: subprocess.Popen[bytes], how: str, database_url: str) -> None:
    """kill -9; or five SIGTERMs at once, as an impatient supervisor sends them, which must end it promptly
    (a signal arriving inside the handling of another once left it holding the lead for ever)."""
    if how == "kill -9":
        project.send_signal(signal.SIGKILL)
        project.wait(10)
        return
    handling_stops(project)
    for _ in range(5):
        project.send_signal(signal.SIGTERM)
        time.sleep(0.01)
    try:
        project.wait(15)
    except subprocess.TimeoutExpired:
        project.kill()
        raise AssertionError("the projector did not stop on SIGTERM") from None
    assert leaders(database_url) == 0, "the lead outlived the projector"


@pytest.mark.parametrize("how", ["kill -9", "a burst of SIGTERMs"])
def test_the_projector_stopped_during_a_catch_up_resumes_where_it_stopped(
    how: str, fault_database: str, tmp_path: Path
) -> None:
    last = a_ledger(fault_database, LEDGER)
    kills, killed_at = 3, []
    began = time.monotonic()
    for _ in range(kills):
        reached = projected(fault_database)
        project = started(fault_database, "project", output=tmp_path / "project.log")
        # Stopped once it has committed a transaction past where the last one stopped. A catch-up's transactions
        # are a third of what remains (projections/catch_up.py `write_batch`), so two thirds are still to come;
        # stopped half way through what remained, the third was often too late on a busy machine, where the
        # last few small transactions take less time than a poll and a signal.
        until(lambda p=project, r=reached: projected(fault_database) > r or p.poll() is not None, "no progress")  # type: ignore[misc]
        end(project, how, fault_database)
        killed_at.append(projected(fault_database))
    # A SIGTERM lets the transaction under way finish, a burst of events with a fast catch-up: the first stop
    # at least comes mid-way.
    stopped_early = killed_at if how == "kill -9" else killed_at[:1]
    assert all(at < last for at in stopped_early), "it caught up before it could be stopped"
    resumed = time.monotonic()
    project = started(fault_database, "project", output=tmp_path / "project.log")
    try:
        until_projected(fault_database)
        recovered = time.monotonic() - resumed
        handling_stops(project)
    finally:
        interrupt(project)
    assert project.returncode == 0, "the last projector did not stop as asked"
    assert leaders(fault_database) == 0, "the lead outlived the last projector"

    assert killed_at == sorted(killed_at) and killed_at[0] > 0
    assert_read_model_is_a_rebuild(fault_database)
    assert_verified(fault_database)
    figures(
        f"projector stopped by {how} during a catch-up",
        events=last,
        stops=kills,
        stopped_at_positions="/".join(map(str, killed_at)),
        last_catch_up_s=recovered,
        in_all_s=time.monotonic() - began,
    )


def test_a_rebuild_in_shares_killed_beside_a_running_service_leaves_it_serving_and_the_next_one_completes(
    serve: Callable[..., Served], fault_database: str, operator_token: str, tmp_path: Path
) -> None:
    a_ledger(fault_database, REBUILD_LEDGER)
    served = serve()
    served.start()
    _, measures = measures_to_write_on(served.url, operator_token, 2)
    until_projected(fault_database)
    served_before = snapshot(fault_database)
    writers = Writers(lambda: served.url, operator_token, measures, 40).start()
    log = tmp_path / "rebuild.log"
    killed = []
    for victim in ("a share", "the rebuild"):
        rebuild = started(fault_database, "rebuild", "--shares", "2", output=log)
        until(lambda r=rebuild: len(children_of(r.pid, "projections.rebuild")) == 2, "the shares never started")  # type: ignore[misc]
        shares = children_of(rebuild.pid, "projections.rebuild")
        time.sleep(0.2)  # into its shares' projecting
        os.kill(shares[0] if victim == "a share" else rebuild.pid, signal.SIGKILL)
        code = rebuild.wait(30)
        killed.append(victim)
        assert code != 0
        # No share outlives its rebuild; the service still leads and answers writes.
        until(lambda s=shares: not any(Path(f"/proc/{p}").exists() for p in s), "a share outlived its rebuild")  # type: ignore[misc]
        assert leaders(fault_database) == 1
        with httpx.Client(timeout=30, headers={"authorization": f"Bearer {operator_token}"}) as http:
            answer = write(http, served.url, measures[0], f"after killing {victim}")
        assert answer["data"]["updateCommentary"]["position"] > 0, answer
    assert snapshot(fault_database)["plans"] == served_before["plans"], "a partial rebuild was served"

    done = run(fault_database, "rebuild", "--shares", "2")
    assert done.returncode == 0, done.stderr
    assert "swapped the new read model in" in done.stderr, done.stderr
    tally = writers.join()
    served.stop()

    assert_whole(fault_database, tally, [f"writer-{n}-{i}" for n in range(2) for i in range(40)])
    figures("rebuild in 2 shares killed beside the service", **tally.figures(), kills=len(killed))
