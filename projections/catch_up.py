"""Catching up: projecting every event recorded after the read model's position, in large batches.

A leader catches up when it takes the lead, before it follows the store live (projections/live.py);
a rebuild is a catch-up from nothing, split into shares (projections/rebuild.py). Three threads work at
once: one reads and decodes the next page of events, one projects, one writes the previous batch.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import Tracking

from domain.ledger import Ledger
from projections.current_state import CurrentState
from projections.event_reader import EventReader
from projections.runtime import catching_up

BATCH = 500  # notifications read at a time
# Events written per transaction when catching up: each transaction costs a dozen
# round trips (a COPY per table), so larger ones measured faster, up to about this.
WRITE_BATCH = 2000
# Towards the end, smaller transactions: the last one is written after every event is projected,
# with nothing to overlap it, so a full-size one there lengthened every rebuild measurably.
LAST_WRITE_BATCH = 250
Progress = Callable[[int, int], None]
_new, _set = object.__new__, object.__setattr__


@dataclass(frozen=True)
class Share:
    """One of `count` shares of the aggregates, projected by its own process in a rebuild."""

    index: int
    count: int

    def name(self, application: str) -> str:
        """The share's own tracking row's name."""
        return f"{application}/share {self.index + 1} of {self.count}"


def catch_up(
    ledger: Ledger,
    projection: CurrentState,
    progress: Progress | None = None,
    *,
    collect_cycles: bool = True,
    share: Share | None = None,
    last: int | None = None,
) -> int:
    """Process every event after the view's position, up to `last` (default: the store's last); returns how many.

    `collect_cycles=False` turns the cyclic garbage collector off for the run (see `runtime.catching_up`).
    With a `share`, only that share's events, tracked under the share's own name (projections/rebuild.py).
    """
    tracked = ledger.name if share is None else share.name(ledger.name)
    start = projection.view.position(tracked) + 1
    if last is None:
        last = ledger.recorder.max_notification_id() or 0
    done = 0
    # One batch context for the whole run, so each transaction is written while the next is computed.
    # closing(): on an error the reader thread is stopped here, not whenever the generator is collected.
    with (
        catching_up(collect_cycles),
        projection.batch(WRITE_BATCH, background=True),
        closing(_pages(ledger, start, last, share)) as pages,
    ):
        for page in pages:
            projection.batch_size = write_batch(last - page[0][0] + 1)
            for position, event in page:
                # Tracking(tracked, position), made in one step: a frozen dataclass's constructor sets each field
                # through object.__setattr__ (tests/unit/test_rebuild_speedups.py holds it to the constructor).
                tracking = _new(Tracking)
                _set(tracking, "__dict__", {"application_name": tracked, "notification_id": position})
                projection.process_event(event, tracking)
                done += 1
            if progress:
                progress(page[-1][0], last)
    return done


def write_batch(remaining: int) -> int:
    """Events per transaction with `remaining` events to go: a third of them, within the bounds."""
    return max(LAST_WRITE_BATCH, min(WRITE_BATCH, remaining // 3))


def _pages(
    ledger: Ledger, start: int, last: int, share: Share | None = None
) -> Generator[list[tuple[int, Any]], None, None]:
    """The events from `start` to `last` with their positions, a page at a time.

    The next page is read and decoded on another thread while this one is
    projected: the database's part of the read overlaps, and decoding takes up
    the time this thread spends waiting for the writer.
    """

    reader = EventReader(ledger.recorder, ledger.mapper, None if share is None else (share.index, share.count))

    def read(first: int) -> list[tuple[int, Any]]:
        return reader.page(first, last, BATCH)

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="projection-reader") as thread:
        following = thread.submit(read, start) if start <= last else None
        while following is not None:
            page = following.result()
            if not page:
                return
            after = page[-1][0] + 1
            following = thread.submit(read, after) if after <= last else None
            yield page
