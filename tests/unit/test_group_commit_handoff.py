"""Group commit under many threads: every save written exactly once, each caller told its own outcome.

The lead passes from one writer to the next queued one (projections/group_commit.py), and each waiting
thread is woken once; these run it against a recorder that takes its time and sometimes refuses.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from types import SimpleNamespace
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.application import ProcessingEvent

from projections.group_commit import GroupCommit

THREADS, SAVES = 24, 30


def _batch(originator: UUID) -> ProcessingEvent[UUID]:
    batch: ProcessingEvent[UUID] = ProcessingEvent()
    batch.events.append(SimpleNamespace(originator_id=originator))  # type: ignore[arg-type]
    return batch


def test_every_save_is_written_once_and_returns_its_own_recordings() -> None:
    written: Counter[UUID] = Counter()
    refused: set[UUID] = set()
    guard = threading.Lock()
    rng = random.Random(7)

    def record(batch: ProcessingEvent[UUID]) -> list[Any]:
        time.sleep(rng.random() / 1000)
        ids = [e.originator_id for e in batch.events]
        if any(i in refused for i in ids):
            raise ValueError("conflict")  # the whole transaction fails; each save is retried alone
        with guard:
            written.update(ids)
        return [SimpleNamespace(domain_event=e) for e in batch.events]

    commits = GroupCommit(record)
    outcomes: dict[UUID, object] = {}

    def writer(n: int) -> None:
        for k in range(SAVES):
            originator = uuid4()
            if (n * SAVES + k) % 17 == 0:
                refused.add(originator)
            try:
                got = commits.save(_batch(originator))
                outcomes[originator] = [r.domain_event.originator_id for r in got]
            except ValueError as e:
                outcomes[originator] = e

    threads = [threading.Thread(target=writer, args=(n,), daemon=True) for n in range(THREADS)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    assert not any(t.is_alive() for t in threads), "a writer never returned"

    assert len(outcomes) == THREADS * SAVES
    for originator, outcome in outcomes.items():
        if originator in refused:
            assert isinstance(outcome, ValueError) and written[originator] == 0
        else:
            assert outcome == [originator] and written[originator] == 1
    assert commits.transactions < THREADS * SAVES  # saves did share transactions
