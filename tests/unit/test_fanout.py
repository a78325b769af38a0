"""The per-process fan-out (service/fanout.py) against an in-memory table.

Each read yields to the event loop, as a round trip to PostgreSQL would, so
rows can be "committed" while a stream is replaying.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Any

import pytest

from service import fanout
from service.fanout import Feed, FellBehind, Filters, Key

Row = dict[str, Any]


class MemoryTable:
    """Stands in for a `Source` and its table: rows in key order, read after a key."""

    table = "status_changes"
    by_quarter = True

    def __init__(self) -> None:
        self.rows: list[Row] = []
        self.reads = 0
        self.before_read: Callable[[], None] | None = None
        self.fail_next = False

    def add(self, position: int, quarter: str = "Q1", measure: str = "m1") -> Row:
        row = {"position": position, "quarter": quarter, "measure_id": measure}
        self.rows.append(row)
        return row

    def key(self, row: Row) -> Key:
        return (row["position"], row["quarter"])

    async def last_key(self, _pool: object) -> Key:
        return self.key(self.rows[-1]) if self.rows else (0, "")

    async def rows_after(self, _pool: object, after: Key, limit: int, filters: Filters) -> list[Row]:
        self.reads += 1
        snapshot = [r for r in self.rows if self.key(r) > after and all(r[c] == v for c, v in filters.items())]
        if self.before_read is not None:
            hook, self.before_read = self.before_read, None
            hook()  # commits after this read's snapshot
        await asyncio.sleep(0)
        if self.fail_next:
            self.fail_next = False
            raise ConnectionError("the pool's connection went away")
        return snapshot[:limit]


def convert(row: Row) -> Key:
    return (row["position"], row["quarter"])


async def started_feed(table: MemoryTable, capacity: int = 100) -> Feed:
    feed = Feed(None, table, convert, capacity, retry_seconds=0.01)  # type: ignore[arg-type]
    await feed.start()
    return feed


async def joined(feed: Feed, stream: AsyncIterator[Any], subscribers: int) -> asyncio.Future[Any]:
    """Start reading a stream and wait until it has joined the live fan-out."""
    first = asyncio.ensure_future(anext(stream))
    async with asyncio.timeout(5):
        while len(feed) < subscribers:
            await asyncio.sleep(0.001)
    return first


async def goes_live(feed: Feed, table: MemoryTable, stream: AsyncGenerator[Any, None], position: int) -> None:
    """After its replay the stream joins the live fan-out, and a row committed then reaches it; then stop."""
    live = await joined(feed, stream, 1)
    table.add(position)
    feed.poke(position)
    assert await live == (position, "Q1")
    await stream.aclose()
    await feed.stop()


async def take(stream: AsyncIterator[Any], count: int) -> list[Any]:
    async with asyncio.timeout(5):
        return [await anext(stream) for _ in range(count)]


async def test_each_new_row_reaches_every_matching_subscriber_once_and_in_order() -> None:
    table = MemoryTable()
    table.add(1)
    feed = await started_feed(table)
    everything = feed.stream(None, {})
    of_m2 = feed.stream(None, {"measure_id": "m2"})
    first = await joined(feed, everything, 1)
    first_of_m2 = await joined(feed, of_m2, 2)
    reads = table.reads
    table.add(2, "Q1"), table.add(2, "Q2", "m2"), table.add(3, "Q4", "m2")
    feed.poke(3)
    assert [await first, *await take(everything, 2)] == [(2, "Q1"), (2, "Q2"), (3, "Q4")]
    assert [await first_of_m2, *await take(of_m2, 1)] == [(2, "Q2"), (3, "Q4")]
    assert table.reads == reads + 1  # one read for every subscriber
    await everything.aclose(), await of_m2.aclose()
    assert len(feed) == 0
    await feed.stop()


async def test_a_resumed_stream_replays_then_goes_live_without_gap_or_duplicate() -> None:
    table = MemoryTable()
    for position in range(1, 6):
        table.add(position)
    feed = await started_feed(table)

    def commit_during_replay() -> None:
        # Position 6 commits after the replay's snapshot; the feed reads it before the stream joins.
        table.add(6)
        feed.poke(6)

    table.before_read = commit_during_replay
    stream = feed.stream((2, "Q1"), {})
    assert await take(stream, 4) == [(3, "Q1"), (4, "Q1"), (5, "Q1"), (6, "Q1")]
    await goes_live(feed, table, stream, 7)


async def test_a_cursor_ahead_of_this_process_skips_what_it_has_already_had() -> None:
    table = MemoryTable()
    table.add(1)
    feed = await started_feed(table)
    # Another process delivered position 2 and (3, Q1) before this one's feed has read them.
    table.add(2), table.add(3, "Q1"), table.add(3, "Q2")
    stream = feed.stream((3, "Q1"), {})
    first = await joined(feed, stream, 1)  # ahead of the feed: nothing to replay
    feed.poke(3)  # the feed offers 2, (3, Q1) and (3, Q2); the first two are at or before the cursor
    assert await first == (3, "Q2")
    table.add(4)
    feed.poke(4)
    assert await take(stream, 1) == [(4, "Q1")]
    await stream.aclose()
    await feed.stop()


async def test_a_replay_longer_than_a_page_arrives_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fanout, "BATCH", 3)
    table = MemoryTable()
    for position in range(1, 12):
        table.add(position, "Q1" if position % 2 else "Q3")
    feed = await started_feed(table)
    stream = feed.stream((0, ""), {})
    assert [p for p, _ in await take(stream, 11)] == list(range(1, 12))
    await stream.aclose()
    await feed.stop()


async def test_a_subscriber_whose_buffer_overflows_is_told_where_to_resume() -> None:
    table = MemoryTable()
    table.add(1)
    feed = await started_feed(table, capacity=2)
    slow = feed.stream(None, {})
    first = await joined(feed, slow, 1)
    table.add(2)
    feed.poke(2)
    assert await first == (2, "Q1")
    table.add(3, "Q1"), table.add(3, "Q2"), table.add(3, "Q3")  # three at once, two fit
    feed.poke(3)
    with pytest.raises(FellBehind) as behind:
        await take(slow, 1)
    assert (behind.value.last, behind.value.capacity) == ((2, "Q1"), 2)
    assert len(feed) == 0
    resumed = feed.stream(behind.value.last, {})
    assert await take(resumed, 3) == [(3, "Q1"), (3, "Q2"), (3, "Q3")]
    await resumed.aclose()
    await feed.stop()


async def test_a_failed_read_is_retried_and_loses_nothing() -> None:
    table = MemoryTable()
    feed = await started_feed(table)
    stream = feed.stream(None, {})
    first = await joined(feed, stream, 1)
    table.add(1)
    table.fail_next = True
    feed.poke(1)
    assert await asyncio.wait_for(first, 5) == (1, "Q1")
    await stream.aclose()
    await feed.stop()


async def test_a_feed_nobody_listens_to_reads_nothing_and_a_stream_from_now_starts_after_what_it_skipped() -> None:
    table = MemoryTable()
    feed = await started_feed(table)
    reads = table.reads
    for position in range(1, 4):
        table.add(position)
        feed.poke(position)
    await asyncio.sleep(0.01)
    assert table.reads == reads  # three projected batches, no round trip
    stream = feed.stream(None, {})
    first = await joined(feed, stream, 1)
    table.add(4)
    feed.poke(4)
    assert await first == (4, "Q1")  # not the rows from before it joined
    await stream.aclose()
    await feed.stop()


async def test_a_resumed_stream_gets_every_row_after_its_cursor_though_nobody_was_listening() -> None:
    table = MemoryTable()
    feed = await started_feed(table)
    for position in range(1, 6):
        table.add(position)
        feed.poke(position)
    await asyncio.sleep(0.01)
    stream = feed.stream((2, "Q1"), {})
    assert await take(stream, 3) == [(3, "Q1"), (4, "Q1"), (5, "Q1")]
    await goes_live(feed, table, stream, 6)


async def test_a_row_committed_while_a_stream_skips_ahead_reaches_it_without_another_notice() -> None:
    table = MemoryTable()
    feed = await started_feed(table)
    table.add(1)
    feed.poke(1)
    await asyncio.sleep(0.01)
    newest = table.last_key

    async def last_key_then_a_commit(pool: object) -> Key:
        found = await newest(pool)
        table.add(2)  # committed after the skip's read, its notice handled while nobody listened
        feed.poke(2)
        await asyncio.sleep(0.01)
        return found

    table.last_key = last_key_then_a_commit  # type: ignore[method-assign]
    stream = feed.stream(None, {})
    assert await take(stream, 1) == [(2, "Q1")]
    await stream.aclose()
    await feed.stop()
