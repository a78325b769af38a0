"""How far the read model has got, learned by LISTEN/NOTIFY on one connection.

A mutation waits here until the projection has passed its write, so its
payload shows the state after the write without polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from projections.current_state import CHANNEL

log = logging.getLogger(__name__)

Connect = Callable[[], Awaitable[asyncpg.Connection]]
ReadPosition = Callable[[], Awaitable[int]]


class PositionWatcher:
    """Tracks the projection's position and wakes whoever waits for one."""

    def __init__(self, connect: Connect, read_position: ReadPosition, reconnect_seconds: float = 1.0) -> None:
        self._connect = connect
        self._read_position = read_position
        self._reconnect_seconds = reconnect_seconds
        self.position = 0
        self._changed = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None
        self._listeners: list[Callable[[int], None]] = []

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
        # A notice may have come before we listened: ask the table once.
        await self._advance(await self._read_position())
        try:
            async with asyncio.timeout(timeout):
                async with self._changed:
                    await self._changed.wait_for(lambda: self.position >= position)
            return True
        except TimeoutError:
            return False

    async def _advance(self, position: int) -> None:
        if position > self.position:
            self.position = position
            async with self._changed:
                self._changed.notify_all()
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
                await self._advance(await self._read_position())
                await lost.wait()
                log.warning("LISTEN connection lost; reconnecting")
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("LISTEN connection failed; retrying")
            finally:
                if conn is not None and not conn.is_closed():
                    with contextlib.suppress(Exception):
                        await conn.close()
            await asyncio.sleep(self._reconnect_seconds)

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        with contextlib.suppress(ValueError):
            asyncio.get_running_loop().create_task(self._advance(int(payload)))
