"""How far the read model has got, learned by LISTEN/NOTIFY on one connection.

A mutation waits here until the projection has passed its write, so its
payload shows the state after the write without polling.

Each waiter has a future in a heap ordered by the position it waits for, and a
move wakes only the waiters it satisfies: with sixteen writers waiting, a
condition variable woke all sixteen at every move, to go back to sleep but one
or two. While LISTEN is in place no waiter reads the table: the notice of the
transaction that reaches its position wakes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from projections.view import CHANNEL

log = logging.getLogger(__name__)

Connect = Callable[[], Awaitable[asyncpg.Connection]]
ReadPosition = Callable[[], Awaitable[int]]


class PositionWatcher:
    """Tracks the projection's position and wakes whoever waits for one."""

    # How long a waiter relies on notices alone, while listening, before asking the table once.
    TRUST_SECONDS = 1.0

    def __init__(self, connect: Connect, read_position: ReadPosition, reconnect_seconds: float = 1.0) -> None:
        self._connect = connect
        self._read_position = read_position
        self._reconnect_seconds = reconnect_seconds
        self.position = 0
        # (position, tie-breaker, future): the least position first.
        self._waiting: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._task: asyncio.Task[None] | None = None
        self._listeners: list[Callable[[int], None]] = []
        # True while LISTEN is in place and the position read after it: every later move is notified.
        self.listening = False

    def subscribe(self, callback: Callable[[int], None]) -> None:
        """Call `callback(position)` whenever the read model moves on."""
        self._listeners.append(callback)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen_forever(), name="position-watcher")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def wait_for(self, position: int, timeout: float) -> bool:
        """True once the read model has passed `position`; False on timeout."""
        if self.position >= position:
            return True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        if not self.listening:
            # Between connections a notice can be missed: ask the table.
            self._advance(await self._read_position())
        elif await self._reached(position, min(timeout, self.TRUST_SECONDS)):
            return True
        else:
            # Not yet: the connection may have died unnoticed (a half-open socket). Ask the table once.
            self._advance(await self._read_position())
        return await self._reached(position, max(0.0, deadline - loop.time()))

    async def _reached(self, position: int, timeout: float) -> bool:
        if self.position >= position:
            return True
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        heapq.heappush(self._waiting, (position, next(self._order), future))
        # A timer that settles the future, rather than asyncio.timeout's context manager around the wait: one
        # handle to cancel, on every write. Settled by either, the future's entry goes when the position passes it.
        timer = loop.call_later(timeout, _settle, future)
        try:
            await future
        finally:
            timer.cancel()
        return self.position >= position

    def _advance(self, position: int) -> None:
        if position <= self.position:
            return
        self.position = position
        waiting = self._waiting
        while waiting and waiting[0][0] <= position:
            future = heapq.heappop(waiting)[2]
            if not future.done():
                future.set_result(None)
        for callback in self._listeners:
            callback(position)

    async def _listen_forever(self) -> None:
        while True:
            conn: asyncpg.Connection | None = None
            try:
                conn = await self._connect()
                lost = asyncio.Event()
                conn.add_termination_listener(lambda _c, lost=lost: lost.set())
                await conn.add_listener(CHANNEL, self._on_notify)
                # Catch up with anything missed while not listening.
                self._advance(await self._read_position())
                self.listening = True
                await lost.wait()
                self.listening = False
                log.warning("LISTEN connection lost; reconnecting")
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("LISTEN connection failed; retrying")
            finally:
                self.listening = False
                if conn is not None and not conn.is_closed():
                    with contextlib.suppress(Exception):
                        await conn.close()
            await asyncio.sleep(self._reconnect_seconds)

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        # Called on the event loop by asyncpg: the waiters it satisfies are woken straight away.
        with contextlib.suppress(ValueError):
            self._advance(int(payload))


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
