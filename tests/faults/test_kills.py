"""kill -9 of a web process and of the projector under write load: every write recorded once, answered
with its position, and the read model what a rebuild makes."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable

import pytest

from projections.runner import leaders
from tests.faults.checks import assert_whole, figures, last_position, until_projected
from tests.faults.conftest import measures_to_write_on
from tests.faults.load import Writers
from tests.faults.served import Served

pytestmark = [pytest.mark.faults, pytest.mark.slow]

WRITERS, PER_WRITER = 4, 50


def keys() -> list[str]:
    return [f"writer-{n}-{i}" for n in range(WRITERS) for i in range(PER_WRITER)]


def under_load(served: Served, token: str) -> tuple[Served, Writers]:
    """The service started, and its writers writing."""
    served.start()
    _, measures = measures_to_write_on(served.url, token, WRITERS)
    return served, Writers(lambda: served.url, token, measures, PER_WRITER).start()


def test_kill_9_of_the_web_process_under_write_load_loses_and_doubles_nothing(
    serve: Callable[..., Served], fault_database: str, operator_token: str
) -> None:
    served, writers = under_load(serve(), operator_token)
    kills, recoveries = 2, []
    for k in range(kills):
        writers.until_written((k + 1) * WRITERS * PER_WRITER // (kills + 1))
        served.kill()
        killed_at, answered = time.monotonic(), writers.done()
        served.start()
        writers.until_written(answered + 1)  # the first write answered by the new process
        recoveries.append(time.monotonic() - killed_at)
    tally = writers.join()
    until_projected(fault_database)
    assert leaders(fault_database) == 1  # the new serve's projector leads: no leader was left stuck
    served.stop()

    assert_whole(fault_database, tally, keys())
    figures(
        "kill -9 of the web process",
        **tally.figures(),
        kills=kills,
        slowest_recovery_s=max(recoveries),
    )


def test_kill_9_of_the_projector_under_write_load_hands_the_lead_on_and_loses_nothing(
    serve: Callable[..., Served], fault_database: str, operator_token: str
) -> None:
    served, writers = under_load(serve(), operator_token)
    writers.until_written(WRITERS * PER_WRITER // 3)
    os.kill(served.projector(), signal.SIGKILL)
    killed_at = time.monotonic()
    # The web process, on standby, takes the lead and projects what was written meanwhile.
    until_projected(fault_database)
    assert leaders(fault_database) == 1
    recovery = time.monotonic() - killed_at
    tally = writers.join()
    served.stop()

    assert_whole(fault_database, tally, keys())
    figures(
        "kill -9 of the projector",
        **tally.figures(),
        kills=1,
        events=last_position(fault_database),
        recovery_s=recovery,
    )
