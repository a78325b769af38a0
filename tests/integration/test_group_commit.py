"""Concurrent writes share transactions, and each still gets exactly its own outcome."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any
from uuid import UUID

from eventsourcing.application import ProcessingEvent
from eventsourcing.persistence import IntegrityError, Recording

from domain.commands import SubmitFigure
from domain.ledger import Written
from domain.values import Quarter, parse_amount
from projections.persistence import ConcurrentLedger
from tests.integration.given import OFFICER, a_measure, a_plan


def measures(ledger: ConcurrentLedger, count: int) -> list[UUID]:
    plan_id = a_plan(ledger)
    return [a_measure(ledger, plan_id, f"5.{n + 1}") for n in range(count)]


def slowed_first_transaction(ledger: ConcurrentLedger, started: threading.Event) -> None:
    """Hold the first transaction open long enough for every other writer to queue behind it."""
    record = ledger.group_commit._record  # noqa: SLF001 - the seam this test controls
    first = True

    def slow(batch: ProcessingEvent[UUID]) -> list[Recording[UUID]]:
        nonlocal first
        if first:
            first = False
            started.set()
            time.sleep(0.3)
        return record(batch)

    ledger.group_commit._record = slow  # noqa: SLF001


def in_threads(calls: list[Callable[[], Any]], started: threading.Event) -> list[Any]:
    results: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        try:
            results[i] = calls[i]()
        except Exception as e:  # noqa: BLE001 - compared below
            results[i] = e

    first = threading.Thread(target=run, args=(0,))
    first.start()
    assert started.wait(5)
    rest = [threading.Thread(target=run, args=(i,)) for i in range(1, len(calls))]
    for t in rest:
        t.start()
    for t in [first, *rest]:
        t.join(10)
    return results


def test_writes_queued_behind_a_transaction_share_the_next_one_and_each_gets_its_own_position(
    ledger: ConcurrentLedger,
) -> None:
    ids = measures(ledger, 8)
    started = threading.Event()
    slowed_first_transaction(ledger, started)
    before = ledger.group_commit.transactions

    calls = [
        (
            lambda mid=mid: ledger.handle(
                SubmitFigure(mid, "total", Quarter.Q1, parse_amount("600", None, None)), OFFICER
            )
        )
        for mid in ids
    ]
    written = in_threads(calls, started)

    assert all(isinstance(w, Written) for w in written), written
    assert ledger.group_commit.transactions - before == 2  # the first alone, then the seven queued behind it
    for mid, w in zip(ids, written, strict=True):
        measure = ledger.get_measure(mid)
        assert measure.figures[("total", Quarter.Q1)].amount.value == parse_amount("600", None, None).value
        # Its own event's position, as a lone save would have answered.
        events = ledger.recorder.select_notifications(start=w.position, limit=1)
        assert events[0].originator_id == mid and events[0].originator_version == w.version
    assert len({w.position for w in written}) == 8


def test_a_conflict_in_a_shared_transaction_fails_only_the_write_that_conflicts(ledger: ConcurrentLedger) -> None:
    first_id, other_id, contested_id = measures(ledger, 3)
    # Two copies of one measure, both about to record its next version: only one can.
    a, b = ledger.get_measure(contested_id), ledger.get_measure(contested_id)
    a.submit_figure("total", Quarter.Q1, parse_amount("600", None, None), actor=OFFICER.actor)
    b.submit_figure("total", Quarter.Q1, parse_amount("700", None, None), actor=OFFICER.actor)
    first, other = ledger.get_measure(first_id), ledger.get_measure(other_id)
    first.submit_figure("total", Quarter.Q1, parse_amount("500", None, None), actor=OFFICER.actor)
    other.submit_figure("total", Quarter.Q1, parse_amount("400", None, None), actor=OFFICER.actor)
    started = threading.Event()
    slowed_first_transaction(ledger, started)

    outcomes = in_threads([lambda: ledger.save(first), lambda: ledger.save(a), lambda: ledger.save(b),
                           lambda: ledger.save(other)], started)  # fmt: skip

    assert not isinstance(outcomes[0], Exception) and not isinstance(outcomes[3], Exception)
    assert sorted(isinstance(o, IntegrityError) for o in outcomes[1:3]) == [False, True]
    assert ledger.get_measure(other_id).figures[("total", Quarter.Q1)].amount.value == 400
    recorded = ledger.get_measure(contested_id).figures[("total", Quarter.Q1)].amount.value
    assert recorded == (600 if not isinstance(outcomes[1], Exception) else 700)
