"""Group commit: concurrent saves written in one transaction.

The event store takes a table lock for every transaction and holds it through
the commit, so that notification ids are gap-free in commit order. Writers in
many threads therefore queue for it one transaction at a time: sixteen clients
submitting figures reached about 115 writes/s (docs/performance.md). Here the
first saver to find nobody writing becomes the leader and writes, in one
transaction, its own events and those of every saver that queued while the
previous transaction was being written. A lone writer waits for nothing. When
a transaction ends, the lead passes to the first saver queued behind it, and
each waiting thread is woken exactly once: when its save is done, or when it is
to write the next transaction.

If the combined transaction fails (one of its aggregates was changed by
another process, say), every save in it is retried alone, so each caller gets
exactly the outcome its own save would have had.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from eventsourcing.application import ProcessingEvent
from eventsourcing.persistence import Recording

Record = Callable[[ProcessingEvent[UUID]], list[Recording[UUID]]]


@dataclass
class _Save:
    batch: ProcessingEvent[UUID]
    # Set once for each waiting save: when it is done, or when it is handed the lead.
    woken: threading.Event = field(default_factory=threading.Event)
    done: bool = False
    recordings: list[Recording[UUID]] = field(default_factory=list)
    error: BaseException | None = None


class GroupCommit:
    """Writes queued saves together; `record` writes one ProcessingEvent in one transaction."""

    def __init__(self, record: Record) -> None:
        self._record = record
        self._lock = threading.Lock()
        self._queue: list[_Save] = []
        self._writing = False
        self.transactions = 0  # for tests and benchmarks: how many transactions the saves took

    def save(self, batch: ProcessingEvent[UUID]) -> list[Recording[UUID]]:
        mine = _Save(batch)
        with self._lock:
            self._queue.append(mine)
            leading = not self._writing
            self._writing = True
        if not leading:
            # Each waiter is woken once: done, or chosen to write the next transaction. Waking them all
            # at the end of every transaction made each thread queue for the interpreter lock twice.
            mine.woken.wait()
        if not mine.done:
            self._lead()
        if mine.error is not None:
            raise mine.error
        return mine.recordings

    def _lead(self) -> None:
        """Write every save queued so far (this thread's among them), then hand the lead on."""
        with self._lock:
            taken, self._queue = self._queue, []
        try:
            self._write(taken)
        finally:
            for s in taken:
                if not s.done:  # only if writing itself failed, outside any one save
                    s.error, s.done = RuntimeError("the group commit failed"), True
            with self._lock:
                successor = self._queue[0] if self._queue else None
                self._writing = successor is not None
            # The next transaction first: its writers have waited longest.
            if successor is not None:
                successor.woken.set()
            for s in taken:
                s.woken.set()

    def _write(self, saves: list[_Save]) -> None:
        if len(saves) > 1:
            combined: ProcessingEvent[UUID] = ProcessingEvent()
            for s in saves:
                combined.events.extend(s.batch.events)
                combined.aggregates.update(s.batch.aggregates)
            try:
                recordings = self._record(combined)
            except Exception:  # noqa: S110 - each save is retried alone below, and gets its own error
                pass
            else:
                self.transactions += 1
                for s in saves:
                    ids = {event.originator_id for event in s.batch.events}
                    s.recordings = [r for r in recordings if r.domain_event.originator_id in ids]
                    s.done = True
                return
        for s in saves:
            try:
                s.recordings = self._record(s.batch)
                self.transactions += 1
            except BaseException as e:  # noqa: BLE001 - handed to the thread whose save it was
                s.error = e
            s.done = True


def collected(*objs: Any) -> ProcessingEvent[UUID]:
    """The pending events of aggregates, as `Application.save` collects them."""
    batch: ProcessingEvent[UUID] = ProcessingEvent()
    batch.collect_events(*objs)
    return batch
