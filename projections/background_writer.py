"""The background writer: batches written on a second thread while the next batch is computed.

A rebuild's batch spends about half of its write waiting for PostgreSQL to
take the COPY (index inserts on the server), time in which this process could
already be projecting the next batch. One writer thread takes one batch at a
time, in order; handing over the next batch first waits for the previous one,
so at most one batch is in flight and a failed write is raised to the
projection before anything later is written.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from eventsourcing.persistence import Tracking

from projections.row_changes import RowChanges

Write = Callable[[RowChanges, Tracking], None]


class BackgroundWriter:
    def __init__(self, write: Write) -> None:
        self._write = write
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="projection-writer")
        self._pending: Future[None] | None = None

    def submit(self, changes: RowChanges, tracking: Tracking) -> None:
        """Write a batch after the previous one; raises the previous one's error, if it had one."""
        self.wait()
        self._pending = self._executor.submit(self._write, changes, tracking)

    def wait(self) -> None:
        """Until the batch in flight is written (or raise why it was not)."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def settle(self) -> None:
        """Until the batch in flight is written or has failed, without raising: the tables stop moving."""
        pending, self._pending = self._pending, None
        if pending is not None:
            # Its error is dropped: whatever it did not write, its tracking row did not
            # record either, so the next catch-up projects those events again.
            pending.exception()

    def close(self) -> None:
        self.settle()
        self._executor.shutdown(wait=True)
