"""The live projection: following the event store, every event recorded so far, a page per transaction.

The library's projection runner writes one transaction per event. With many
writers at once that is the bottleneck: sixteen clients submitting figures
waited far longer for the read model than for their own write
(bench/__main__.py, a trace of service/schema/context.py `write`).
Here each wake-up projects everything recorded since the last one, up to a
page per transaction, so a burst of writes costs one commit per page, and a
lone write is projected as soon as its NOTIFY arrives, as before.

Per wake-up the round trips are few, since each costs CPU here and in the
database on the same cores: the position is kept in memory (this thread is
the only writer of the read model while it leads), the notices already
received are drained before reading (their events are all in that read), and
a short page ends the read. `then` (the hash chain) runs at most every
`then_seconds`, since nobody waits for it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import psycopg
from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg.sql import SQL, Identifier

from domain.ledger import Ledger
from projections.current_state import CurrentState
from projections.event_reader import EventReader
from projections.stall import Stop

PAGE = 500
END = 2**63 - 1  # no upper bound: notification ids are bigints
# The hash chain's lag behind the read model is bounded by this, and its cost is then one transaction
# per this interval rather than one per wake-up (about one per group commit under load).
THEN_SECONDS = 0.1


def follow(
    ledger: Ledger,
    projection: CurrentState,
    conninfo: str,
    stop: Stop,
    *,
    then: Callable[[], object] = lambda: None,
    idle_seconds: float = 1.0,
    then_seconds: float = THEN_SECONDS,
) -> None:
    """Project new events until `stop` is set (checked at least every `idle_seconds`); call `then` after.

    Woken by the NOTIFY the event store sends with every write. `then` does other work that
    should follow the store a burst at a time, after the read model, which writers wait for:
    it is called at most every `then_seconds`, and within `then_seconds` of any event projected.
    """
    recorder = ledger.recorder
    assert isinstance(recorder, PostgresApplicationRecorder)
    with psycopg.connect(conninfo, autocommit=True) as listener:
        # Listening before reading, so an event recorded in between still wakes the loop.
        listener.execute(SQL("LISTEN {}").format(Identifier(recorder.channel_name)))
        position = projection.view.position(ledger.name)
        reader = EventReader(recorder, ledger.mapper)
        then_due: float | None = 0.0  # when `then` must next run; None: nothing new for it
        while not stop.is_set():
            position, done = project_from(ledger, projection, position, reader)
            now = time.monotonic()
            if done and then_due is None:
                then_due = now + then_seconds
            if then_due is not None and now >= then_due:
                then()
                then_due = None
            wait = idle_seconds if then_due is None else max(0.0, then_due - time.monotonic())
            for _ in listener.notifies(timeout=wait, stop_after=1):
                pass
            # Notices that came meanwhile are for events the next read gets anyway.
            for _ in listener.notifies(timeout=0):
                pass


def project_available(ledger: Ledger, projection: CurrentState) -> int:
    """Project every event after the read model's position, a page per transaction; how many there were."""
    return project_from(ledger, projection, projection.view.position(ledger.name))[1]


def project_from(
    ledger: Ledger, projection: CurrentState, position: int, reader: EventReader | None = None
) -> tuple[int, int]:
    """Project every event after `position` (the read model's), a page per transaction.

    Returns the new position and how many events there were. The events are read as a catch-up reads
    them (projections/event_reader.py), for about half the CPU of the library's notifications and mapper.
    """
    reader = reader or EventReader(ledger.recorder, ledger.mapper)
    done = 0
    while page := reader.page(position + 1, END, PAGE):
        with projection.batch(len(page)):
            for notification_id, event in page:
                projection.process_event(event, Tracking(ledger.name, notification_id))
        done += len(page)
        position = page[-1][0]
        if len(page) < PAGE:
            # All there was when read; whatever is recorded later sends a notice, which wakes the loop.
            break
    return position, done
