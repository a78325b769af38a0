"""Reading from hot standbys (ML_READ_DATABASE_URLS), never older than a position the client has seen.

Writes, the projection, the hash chain, LISTEN and subscriptions stay on the primary. Queries, the plan export
(from the standby's event store), the audit export, the board report and the response cache's check read from
a standby in rotation.

**Read-your-writes.** A mutation answers once the primary's read model holds its write, with the ledger
position of its event, and reads its payload from the primary. A client that sends that position back in
the `X-Min-Position` header is served only by a standby whose read model has reached it, else by the
primary. The standby's own `current_state_tracking` row says so exactly: it is committed in the same
transaction as the rows it describes, and replayed with them, so no map from positions to WAL locations is
kept, and the rule holds for every process behind a load balancer, whichever one took the write.

**Waiting, as far as PostgreSQL lets a standby's client wait.** A standby cannot LISTEN for the primary's
NOTIFY (notifications are not written to the WAL), and no released PostgreSQL up to 18 lets a client wait
for replay to pass a point (`WAIT FOR LSN` is in none of them). `pg_stat_replication.replay_lsn` on the
primary is no better: a standby reports its replay only with its next message (every
`wal_receiver_status_interval`, 10 s by default) unless commits wait for `remote_apply`. So each standby has
one tracker task per process. A reader needing a position the standby has not shown yet registers a future
(in a heap, as service/positions.py's waiters do) and wakes the tracker, which reads the standby's position
once for every reader waiting; the primary's NOTIFY of its read model moving wakes it again. Only while
someone waits for a position the primary already has — the standby is replaying it at that moment, usually
within a millisecond or two — does it read again after 1, 2, 4 … 32 ms, with nothing else left to be woken
by. A reader still waiting after ML_READ_WAIT_SECONDS reads the primary.

**Rotation.** Each standby's position is read every ML_READ_CHECK_SECONDS. One that does not answer, or that
lags more than ML_READ_MAX_LAG_SECONDS, is out of rotation until a check finds it healthy again. Its lag is
the time since the primary's read model first moved past the standby's position, as this process heard it
by NOTIFY, so no two servers' clocks are compared. A read failing on a standby because the standby is gone
(refused or lost connections, a shutdown, a conflict with recovery) takes it out at once and runs again on
the primary: reads are repeatable.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import asyncpg
import psycopg.conninfo
import psycopg.errors
import psycopg_pool

log = logging.getLogger(__name__)
T = TypeVar("T")

MIN_POSITION_HEADER = "x-min-position"
POSITION_SQL = "SELECT notification_id FROM current_state_tracking WHERE application_name = $1"

# The re-reads of a standby while it replays a position the primary has (see the module's doc).
FIRST_RECHECK_SECONDS = 0.001
LAST_RECHECK_SECONDS = 0.032
# The primary's moves kept per standby to tell its lag; past this many it is far behind anyway.
MAX_MOVES = 10_000

# What a standby that has gone, or cannot answer now, raises; anything else is the query's own error.
UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,  # refused, reset
    TimeoutError,  # connecting
    asyncpg.PostgresConnectionError,  # SQLSTATE class 08
    asyncpg.exceptions.OperatorInterventionError,  # 57: shutting down, starting up, cancelled
    asyncpg.exceptions.TransactionRollbackError,  # 40001: cancelled by a conflict with recovery
    asyncpg.InterfaceError,  # the connection closed under the query
    # The same for psycopg, which the event store reads through (plan exports).
    psycopg.OperationalError,
    psycopg.errors.SerializationFailure,
    psycopg_pool.PoolTimeout,
)

Open = Callable[[str], Awaitable[asyncpg.Pool]]
OpenLedger = Callable[[str], Any]


class MinPositionError(ValueError):
    """An X-Min-Position header that is not a position."""

    field = "X-Min-Position"


def min_position(headers: Mapping[str, str]) -> int | None:
    """The position a request must read at least, from its X-Min-Position header; None without one."""
    raw = headers.get(MIN_POSITION_HEADER)
    if raw is None or not raw.strip():
        return None
    value = raw.strip()
    if not (value.isascii() and value.isdigit() and len(value) <= 18):
        raise MinPositionError(f"X-Min-Position: must be a ledger position (a whole number), not {value[:20]!r}")
    return int(value)


def unavailable(error: BaseException | None) -> bool:
    """Whether `error`, or what it was raised from, says the standby is gone or cannot answer now."""
    seen = 0
    while error is not None and seen < 5:
        if isinstance(error, UNAVAILABLE):
            return True
        error, seen = error.__cause__, seen + 1  # eventsourcing raises its own errors from psycopg's
    return False


def describe(url: str) -> str:
    """A standby's name for logs and /health: host, port and database, never a password."""
    parts = psycopg.conninfo.conninfo_to_dict(url)
    return f"{parts.get('host') or '127.0.0.1'}:{parts.get('port') or 5432}/{parts.get('dbname') or 'postgres'}"


@dataclass(eq=False)
class Replica:
    """One standby, as this process sees it."""

    name: str
    pool: asyncpg.Pool
    # The event store as read on this standby (plan exports rebuild aggregates from it); None if not opened.
    ledger: Any = None
    position: int = 0
    in_rotation: bool = False
    lag_seconds: float | None = None
    error: str | None = None
    # Requests this process has sent here.
    reads: int = 0
    # (position, tie-breaker, future): readers waiting for the standby to show a position, least first.
    waiting: list[tuple[int, int, asyncio.Future[bool]]] = field(default_factory=list)
    # The primary's moves past this standby's position: (position, when this process heard of it).
    moves: deque[tuple[int, float]] = field(default_factory=deque)
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    def wait_for(self, position: int, order: int) -> asyncio.Future[bool]:
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        heapq.heappush(self.waiting, (position, order, future))
        return future

    def advance(self, position: int) -> None:
        self.position = max(self.position, position)
        while self.waiting and self.waiting[0][0] <= self.position:
            future = heapq.heappop(self.waiting)[2]
            if not future.done():
                future.set_result(True)

    def release(self) -> None:
        """Let every reader waiting here go to the primary."""
        waiting, self.waiting = self.waiting, []
        for _, _, future in waiting:
            if not future.done():
                future.set_result(False)

    def expecting(self, primary: int) -> bool:
        """Whether a reader waits for a position the primary has and this standby has not shown yet."""
        while self.waiting and self.waiting[0][2].done():
            heapq.heappop(self.waiting)
        return any(p <= primary and not f.done() for p, _, f in self.waiting)

    def lag(self, primary: int, now: float) -> float:
        moves = self.moves
        while moves and moves[0][0] <= self.position:
            moves.popleft()
        if not moves:
            if primary <= self.position:
                return 0.0
            # Behind since before this process heard of it: from now, as far as it can tell.
            moves.append((primary, now))
        return now - moves[0][1]


class Replicas:
    """The standbys a process reads from, and the primary it falls back to."""

    def __init__(
        self,
        primary: asyncpg.Pool,
        replicas: Iterable[Replica],
        application_name: str,
        primary_position: Callable[[], int],
        *,
        max_lag_seconds: float,
        wait_seconds: float,
        check_seconds: float,
    ) -> None:
        self.primary = primary
        self.replicas = list(replicas)
        self._by_pool = {id(r.pool): r for r in self.replicas}
        self._application_name = application_name
        self._primary_position = primary_position
        self.max_lag_seconds = max_lag_seconds
        self.wait_seconds = wait_seconds
        self.check_seconds = check_seconds
        self._order = itertools.count()
        self._turn = itertools.count()
        self._tasks: list[asyncio.Task[None]] = []
        self.fallbacks = 0

    @classmethod
    async def open(
        cls,
        primary: asyncpg.Pool,
        urls: Iterable[str],
        open_pool: Open,
        open_ledger: OpenLedger,
        application_name: str,
        primary_position: Callable[[], int],
        *,
        max_lag_seconds: float,
        wait_seconds: float,
        check_seconds: float,
    ) -> Replicas:
        replicas = [Replica(describe(url), await open_pool(url), open_ledger(url)) for url in urls]
        return cls(
            primary,
            replicas,
            application_name,
            primary_position,
            max_lag_seconds=max_lag_seconds,
            wait_seconds=wait_seconds,
            check_seconds=check_seconds,
        )

    async def start(self) -> None:
        """Read every standby once, so that the healthy ones serve from the first request; then track them."""
        await asyncio.gather(*(self._check(r) for r in self.replicas))
        self._tasks = [asyncio.create_task(self._track(r), name=f"replica {r.name}") for r in self.replicas]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for r in self.replicas:
            r.release()
            if r.ledger is not None:
                r.ledger.close()
            try:
                await asyncio.wait_for(r.pool.close(), 5)
            except Exception:  # a connection that will not close in time, or a standby already gone
                r.pool.terminate()

    def primary_moved(self, position: int) -> None:
        """The primary's read model reached `position` (its NOTIFY): the standbys will replay it next."""
        now = time.monotonic()
        for r in self.replicas:
            if position > r.position and len(r.moves) < MAX_MOVES:
                r.moves.append((position, now))
            if r.waiting:
                r.wake.set()

    async def reader(self, at_least: int | None) -> asyncpg.Pool:
        """A pool whose read model has reached `at_least`: a standby in rotation if one has, or replays it within
        the wait; else the primary."""
        live = [r for r in self.replicas if r.in_rotation]
        if not live:
            return self.primary
        wanted = at_least or 0
        ready = [r for r in live if r.position >= wanted]
        if ready:
            return self._next(ready).pool
        order = next(self._order)
        waits = {r.wait_for(wanted, order): r for r in live}
        for r in live:
            r.wake.set()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.wait_seconds
        pending = set(waits)
        try:
            while pending:
                done, pending = await asyncio.wait(
                    pending, timeout=max(0.0, deadline - loop.time()), return_when=asyncio.FIRST_COMPLETED
                )
                if not done:
                    break
                caught_up = [waits[f] for f in done if f.result()]
                if caught_up:
                    return self._next(caught_up).pool
        finally:
            for future in pending:
                future.cancel()
        self.fallbacks += 1
        return self.primary

    def failed(self, pool: asyncpg.Pool, error: BaseException | None) -> bool:
        """Whether a read that raised `error` on `pool` should run again on the primary: the pool is a standby's
        and the standby is gone or cannot answer now (it is then out of rotation until a check finds it well)."""
        replica = self._by_pool.get(id(pool))
        if replica is None or not unavailable(error):
            return False
        self._out(replica, error)
        replica.wake.set()
        return True

    def ledger_of(self, pool: asyncpg.Pool) -> Any:
        """The event store of the standby whose pool this is; None for the primary's."""
        replica = self._by_pool.get(id(pool))
        return None if replica is None else replica.ledger

    async def run(self, at_least: int | None, read: Callable[[asyncpg.Pool], Awaitable[T]]) -> T:
        """`read(pool)` on a standby that has reached `at_least`, run again on the primary if the standby fails."""
        pool = await self.reader(at_least)
        try:
            return await read(pool)
        except Exception as e:
            if not self.failed(pool, e):
                raise
        return await read(self.primary)

    def health(self) -> list[dict[str, Any]]:
        primary = self._primary_position()
        return [
            {
                "name": r.name,
                "inRotation": r.in_rotation,
                "position": r.position,
                "behind": max(0, primary - r.position),
                "lagSeconds": None if r.lag_seconds is None else round(r.lag_seconds, 3),
                "error": r.error,
                "reads": r.reads,
            }
            for r in self.replicas
        ]

    def _next(self, candidates: list[Replica]) -> Replica:
        chosen = candidates[next(self._turn) % len(candidates)]
        chosen.reads += 1
        return chosen

    async def _track(self, r: Replica) -> None:
        delay = FIRST_RECHECK_SECONDS
        while True:
            if r.in_rotation and r.expecting(self._primary_position()):
                timeout, delay = delay, min(delay * 2, LAST_RECHECK_SECONDS)
            else:
                timeout, delay = self.check_seconds, FIRST_RECHECK_SECONDS
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await r.wake.wait()
                delay = FIRST_RECHECK_SECONDS  # woken by a reader or the primary: the back-off starts again
            r.wake.clear()
            await self._check(r)

    async def _check(self, r: Replica) -> None:
        try:
            async with asyncio.timeout(max(self.check_seconds, 1.0)):
                value = await r.pool.fetchval(POSITION_SQL, self._application_name)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # whatever it is, this standby cannot serve reads now
            self._out(r, e)
            return
        r.error = None
        r.advance(int(value or 0))
        r.lag_seconds = r.lag(self._primary_position(), time.monotonic())
        healthy = r.lag_seconds <= self.max_lag_seconds
        if healthy != r.in_rotation:
            if healthy:
                log.info("read replica %s is in rotation (lag %.3f s)", r.name, r.lag_seconds)
            else:
                log.warning("read replica %s is out of rotation: %.3f s behind", r.name, r.lag_seconds)
        r.in_rotation = healthy
        if not healthy:
            r.release()

    def _out(self, r: Replica, error: BaseException | None) -> None:
        reason = f"{type(error).__name__}: {error}"[:200] if error is not None else "unavailable"
        if r.in_rotation or r.error is None:
            log.warning("read replica %s is out of rotation: %s", r.name, reason)
        r.in_rotation, r.error, r.lag_seconds = False, reason, None
        r.release()
