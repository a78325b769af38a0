"""PostgreSQL restarted under write load, with subscribers following the plan: the service answers 503 only
while the database is down, every write lands once, and every subscriber resumes from its cursor to see each
event exactly once, in order."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import httpx
import pytest

from tests.e2e.test_subscriptions import recorded_event_positions
from tests.faults.checks import assert_whole, figures, last_position, until_projected
from tests.faults.conftest import measures_to_write_on
from tests.faults.load import Subscriber, Writers
from tests.faults.served import Served
from tests.faults.test_kills import PER_WRITER, WRITERS, keys
from tests.replication.cluster import Server

pytestmark = [pytest.mark.faults, pytest.mark.slow]

RESTARTS, DOWN_SECONDS, SUBSCRIBERS = 2, 2.0, 2


def audit_subscribers(served: Served) -> int:
    count: int = httpx.get(served.url + "/health", timeout=5).json()["subscribers"]["audit_entries"]
    return count


def test_a_postgres_restart_under_load_is_503_only_while_down_and_subscribers_resume_from_their_cursors(
    serve: Callable[..., Served], own_postgres: Server, fault_database: str, operator_token: str
) -> None:
    served = serve()
    served.start()
    plan_id, measures = measures_to_write_on(served.url, operator_token, WRITERS)
    before = last_position(fault_database)
    subscribers = [
        Subscriber(lambda: served.url.replace("http", "ws") + "/graphql", operator_token, plan_id).start()
        for _ in range(SUBSCRIBERS)
    ]
    deadline = time.monotonic() + 30
    while audit_subscribers(served) < SUBSCRIBERS:
        assert time.monotonic() < deadline, "the subscribers never joined"
        time.sleep(0.05)
    down = threading.Event()
    writers = Writers(lambda: served.url, operator_token, measures, PER_WRITER, database_down=down.is_set).start()
    recoveries, downtimes = [], []
    try:
        for r in range(RESTARTS):
            writers.until_written((r + 1) * WRITERS * PER_WRITER // (RESTARTS + 1))
            down.set()
            began = time.monotonic()
            own_postgres.stop()
            subscribers[0].drop()  # its network fails too: it resumes from its cursor, trying until it can
            time.sleep(DOWN_SECONDS)
            own_postgres.start()
            downtimes.append(time.monotonic() - began)
            down.clear()
            back, answered = time.monotonic(), writers.done()
            writers.until_written(answered + 1)  # the first write answered once the database is back
            recoveries.append(time.monotonic() - back)
        tally = writers.join()
        until_projected(fault_database)
        events = [p for p in recorded_event_positions(fault_database, plan_id) if p > before]
        for s in subscribers:
            s.until_seen(events[-1])
    finally:
        for s in subscribers:
            s.stop()
    served.stop()

    # The plan's every event after the subscriptions began, exactly once each and in order, for each subscriber.
    assert len(events) == WRITERS * PER_WRITER
    for s in subscribers:
        assert s.positions == events
    assert_whole(fault_database, tally, keys())
    mirrored = [len(s.positions) for s in subscribers]
    figures(
        "PostgreSQL restart",
        **tally.figures(),
        restarts=RESTARTS,
        answered_503=tally.statuses[503],
        longest_down_s=max(downtimes),
        slowest_recovery_s=max(recoveries),
        subscribers=SUBSCRIBERS,
        events_mirrored=min(mirrored),
        subscriber_resumes=sum(s.resumes for s in subscribers),
    )
