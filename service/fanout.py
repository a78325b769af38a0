"""Delivery of recorded facts to live subscribers: one reader per table per process.

The projection writes `status_changes` and `audit_entries` rows in the same
transaction as its position, then NOTIFYs. Each process has one `Feed` per
table: when the `PositionWatcher` reports a new position, the feed reads the
rows after the last one it read, once, and offers each to every subscriber
whose filter matches. Subscribers hold a bounded buffer; one that falls
behind is closed (`FellBehind`) rather than slowing the others down, and
resumes from its last cursor through the table.

A stream first replays from the table at the client's own pace and joins the
live fan-out only once it has delivered everything the feed has read, so no
live row is buffered during a long replay; rows the live part offers at or
before the last delivered key are skipped. Hence every row arrives exactly
once, in key order, with no gap between the replayed and the live part.

Each live row is converted (to its GraphQL object) once, however many
subscribers receive it, so they can share the work of executing it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncGenerator, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol, TypeAlias
from uuid import UUID

import asyncpg

log = logging.getLogger(__name__)

Row: TypeAlias = asyncpg.Record
# Where a row sits: (position, quarter). Rows of a table keyed by position alone use "".
Key = tuple[int, str]
# Column -> value every delivered row must have, e.g. {"plan_id": UUID(...)}.
Filters = Mapping[str, UUID]
# Row -> what subscribers receive.
Convert = Callable[[Row], Any]

BATCH = 500


class FellBehind(Exception):
    """A subscriber's buffer overflowed: it must resume from its last cursor."""

    def __init__(self, capacity: int, last: Key) -> None:
        super().__init__(f"fell behind by more than {capacity} messages")
        self.capacity = capacity
        self.last = last


@dataclass(frozen=True)
class Source:
    """A table of facts that only ever grows in key order."""

    table: str
    by_quarter: bool  # keyed by (position, quarter) rather than by position alone

    def key(self, row: Row) -> Key:
        return (row["position"], row["quarter"] if self.by_quarter else "")

    async def last_key(self, pool: asyncpg.Pool) -> Key:
        """The key of the newest row; (0, "") for an empty table."""
        order = "position DESC, quarter DESC" if self.by_quarter else "position DESC"
        columns = "position, quarter" if self.by_quarter else "position"
        row = await pool.fetchrow(f"SELECT {columns} FROM {self.table} ORDER BY {order} LIMIT 1")  # noqa: S608
        return (0, "") if row is None else self.key(row)

    async def rows_after(self, pool: asyncpg.Pool, after: Key, limit: int, filters: Filters) -> list[Row]:
        """Up to `limit` rows after `after` that match `filters`, in key order."""
        if self.by_quarter:
            # A row comparison, so the primary key's index serves the range.
            conditions, args = ["(position, quarter) > ($1, $2)"], [after[0], after[1]]
            order = "position, quarter"
        else:
            conditions, args = ["position > $1"], [after[0]]
            order = "position"
        for column, value in filters.items():
            args.append(value)
            conditions.append(f"{column} = ${len(args)}")
        args.append(limit)
        where = " AND ".join(conditions)
        sql = f"SELECT * FROM {self.table} WHERE {where} ORDER BY {order} LIMIT ${len(args)}"  # noqa: S608
        return list(await pool.fetch(sql, *args))


STATUS_CHANGES = Source("status_changes", by_quarter=True)
LEDGER_EVENTS = Source("audit_entries", by_quarter=False)


# Filters as a dict key: (column, value) pairs in column order.
FilterKey = tuple[tuple[str, UUID], ...]


def _filter_key(filters: Filters) -> FilterKey:
    return tuple(sorted(filters.items()))


# The last item of `Feed.replay`.
CAUGHT_UP: Final = object()


class Listener(Protocol):
    """What a feed offers its rows to: a `Subscriber`, or a live operation that writes them itself."""

    filters: Filters

    @property
    def buffered(self) -> int: ...

    def offer(self, item: tuple[Key, Any]) -> None: ...


class Subscriber:
    """One live stream's bounded buffer of (key, payload) not yet delivered.

    An idle subscriber holds no buffer and one bare future: with a thousand of them per
    process, a deque and an asyncio.Event each would cost more than the rest of it.
    """

    __slots__ = ("_capacity", "_rows", "_waiter", "filters", "overflowed")

    def __init__(self, filters: Filters, capacity: int) -> None:
        self.filters = filters
        self._capacity = capacity
        self._rows: deque[tuple[Key, Any]] | None = None
        self._waiter: asyncio.Future[None] | None = None
        self.overflowed = False

    @property
    def buffered(self) -> int:
        """Payloads waiting to be delivered."""
        return len(self._rows) if self._rows else 0

    def offer(self, item: tuple[Key, Any]) -> None:
        """Buffer a payload; past capacity, give up on this subscriber instead of waiting for it."""
        if self.overflowed:
            return
        if self._rows is None:
            self._rows = deque()
        if len(self._rows) >= self._capacity:
            self.overflowed = True
            self._rows = None  # free the memory now: it resumes from the table
        else:
            self._rows.append(item)
        self._wake()

    def _wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def next(self) -> tuple[Key, Any] | None:
        """The next buffered (key, payload), waiting for one; None once overflowed."""
        while not self._rows and not self.overflowed:
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
        if self.overflowed or self._rows is None:
            return None
        item = self._rows.popleft()
        if not self._rows:
            self._rows = None
        return item


class Feed:
    """Reads one table once per advance of the read model and fans its new rows out."""

    def __init__(
        self, pool: asyncpg.Pool, source: Source, convert: Convert, capacity: int, retry_seconds: float = 1.0
    ) -> None:
        self.pool = pool
        self.source = source
        self.convert = convert
        self.capacity = capacity
        self.retry_seconds = retry_seconds
        self.last: Key = (0, "")
        # Poked while nobody listened, so rows after `last` went unread: see `_read_new_rows`.
        self.skipped = False
        # Listeners by their filters, so that a row is matched once per distinct filter, not once per listener.
        self._subscribers: dict[FilterKey, set[Listener]] = {}
        # Called after each batch of rows has been offered (service/speedups/live_delivery.py writes them then).
        self.after_offers: list[Callable[[], None]] = []
        # Subscribers closed for falling behind, since the feed started (for service/metrics.py).
        self.fell_behind = 0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def __len__(self) -> int:
        return sum(map(len, self._subscribers.values()))

    def buffers(self) -> list[int]:
        """How many payloads each live subscriber has waiting."""
        return [subscriber.buffered for listeners in self._subscribers.values() for subscriber in listeners]

    async def start(self) -> None:
        """Begin at the table's newest row: older rows reach subscribers by replay."""
        self.last = await self.source.last_key(self.pool)
        self._task = asyncio.create_task(self._read_forever(), name=f"feed-{self.source.table}")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def poke(self, _position: int = 0) -> None:
        """The read model moved on (a PositionWatcher callback): read the new rows."""
        self._wake.set()

    async def _read_forever(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self._read_new_rows()
            except asyncio.CancelledError:
                raise
            except Exception:
                # `last` has not moved, so nothing is lost: read again shortly.
                log.exception("reading new %s failed; retrying", self.source.table)
                await asyncio.sleep(self.retry_seconds)
                self._wake.set()

    async def _read_new_rows(self) -> None:
        if not self._subscribers:
            # Nobody to offer them to: reading them would cost a round trip a projected batch, on the same
            # event loop as every request, for nothing. A stream that joins skips them (`_skip_unread`).
            self.skipped = True
            return
        self.skipped = False
        while True:
            rows = await self.source.rows_after(self.pool, self.last, BATCH, {})
            # No await from here to the end of the loop body: a stream that joins
            # sees `last` and the rows offered so far move together.
            for row in rows:
                key, item = self.source.key(row), None
                for filters, listeners in self._subscribers.items():
                    if all(row[column] == value for column, value in filters):
                        if item is None:
                            item = (key, self.convert(row))  # once, for every subscriber
                        for subscriber in listeners:
                            subscriber.offer(item)
                self.last = key
            for offered in self.after_offers:
                offered()
            if len(rows) < BATCH:
                return

    async def _skip_unread(self) -> None:
        """Bring `last` to the table's newest row, past the rows nobody listened for, while nobody listens."""
        newest = await self.source.last_key(self.pool)
        # A stream that joined during the read relies on the rows after `last` being read for it. `skipped`
        # stays set: rows may have come during the read, and the reader reads them once a stream has joined.
        if not self._subscribers:
            self.last = max(self.last, newest)

    async def replay(self, after: Key | None, filters: Filters) -> AsyncGenerator[tuple[Key, Any], None]:
        """(key, converted row) of every matching row after `after` (None: from now) that this feed has read,
        then (the key delivered up to, CAUGHT_UP): join the live rows (`join`) before awaiting anything else."""
        if self.skipped:
            await self._skip_unread()
        delivered: Key = self.last if after is None else after
        # Replay until we have delivered all this feed has read; `horizon` is read
        # before each query, so a short page proves every row up to it was seen.
        while delivered < (horizon := self.last):
            rows = await self.source.rows_after(self.pool, delivered, BATCH, filters)
            for row in rows:
                delivered = self.source.key(row)
                yield delivered, self.convert(row)
            if len(rows) < BATCH:
                delivered = max(delivered, horizon)
        yield delivered, CAUGHT_UP

    def join(self, listener: Listener) -> None:
        """Offer `listener` every row read from now on."""
        self._subscribers.setdefault(_filter_key(listener.filters), set()).add(listener)
        if self.skipped:
            # Rows came while nobody listened, after the replay's skip: read them for this subscriber now.
            self._wake.set()

    def leave(self, listener: Listener) -> None:
        key = _filter_key(listener.filters)
        if (listeners := self._subscribers.get(key)) is not None:
            listeners.discard(listener)
            if not listeners:
                del self._subscribers[key]

    async def stream(self, after: Key | None, filters: Filters) -> AsyncGenerator[Any, None]:
        """Every matching row after `after` (None: from now), converted, exactly once and in key order.

        Raises `FellBehind` if the live part overflows its buffer.
        """
        delivered: Key = (0, "")
        async for key, payload in self.replay(after, filters):
            if payload is CAUGHT_UP:
                delivered = key
            else:
                yield payload
        # Joined with no await since the replay's last check: every row after `self.last` will be offered.
        subscriber = Subscriber(filters, self.capacity)
        self.join(subscriber)
        try:
            while (item := await subscriber.next()) is not None:
                key, payload = item
                if key <= delivered:
                    continue  # already replayed
                delivered = key
                yield payload
            self.fell_behind += 1
            raise FellBehind(self.capacity, delivered)
        finally:
            self.leave(subscriber)


@dataclass
class Feeds:
    """This process's feeds, one per table subscriptions read."""

    status_changes: Feed
    ledger_events: Feed

    @classmethod
    def open(cls, pool: asyncpg.Pool, capacity: int, status_change: Convert, ledger_event: Convert) -> Feeds:
        """Feeds whose subscribers receive `status_change(row)` and `ledger_event(row)`."""
        return cls(
            Feed(pool, STATUS_CHANGES, status_change, capacity), Feed(pool, LEDGER_EVENTS, ledger_event, capacity)
        )

    def all(self) -> tuple[Feed, ...]:
        return (self.status_changes, self.ledger_events)

    async def start(self) -> None:
        for feed in self.all():
            await feed.start()

    async def stop(self) -> None:
        for feed in self.all():
            await feed.stop()

    def poke(self, position: int) -> None:
        for feed in self.all():
            feed.poke(position)

    def subscribers(self) -> dict[str, int]:
        return {feed.source.table: len(feed) for feed in self.all()}
