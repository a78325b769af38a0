"""A webhook receiver in the test process: a real HTTP server that verifies Standard Webhooks signatures.

One server answers any number of webhooks, each at its own path (`/hooks/<name>`), each with its own
secrets and behaviour, changed on demand: answer 2xx, fail with 500, stall (answer nothing until told),
close the connection, or redirect. It records every request it received, in arrival order, and
whether its signature verified under one of the secrets it was given.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

OK, FAIL, STALL, CLOSE, REDIRECT = "ok", "fail", "stall", "close", "redirect"


@dataclass(frozen=True)
class Received:
    """One request as it arrived."""

    id: str
    headers: dict[str, str]
    body: dict[str, Any] | None
    verified: bool
    at: float  # time.monotonic() on arrival
    wall: float  # time.time() on arrival


@dataclass
class _Hook:
    secrets: list[str] = field(default_factory=list)
    mode: str = OK
    received: list[Received] = field(default_factory=list)
    released: asyncio.Event | None = None


class Receiver:
    """The server, in a thread of its own with its own event loop, until `stop()`."""

    def __init__(self) -> None:
        self._hooks: dict[str, _Hook] = defaultdict(_Hook)
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="webhook-receiver", daemon=True)
        self._runner: web.AppRunner | None = None
        self.port = 0

    def start(self) -> Receiver:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_post("/hooks/{name}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def stop(self) -> None:
        async def stop() -> None:
            for hook in self._hooks.values():
                if hook.released is not None:
                    hook.released.set()
            if self._runner is not None:
                await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/{name}"

    def trust(self, name: str, *secrets: str) -> None:
        """Verify `name`'s requests with these secrets (any one signature under any one of them will do)."""
        with self._lock:
            self._hooks[name].secrets = list(secrets)

    def set_mode(self, name: str, mode: str) -> None:
        """Change how `name` answers from its next request; leaving STALL releases the stalled ones."""

        def change() -> None:
            hook = self._hooks[name]
            hook.mode = mode
            if mode != STALL and hook.released is not None:
                hook.released.set()
                hook.released = None

        self._loop.call_soon_threadsafe(change)

    def received(self, name: str) -> list[Received]:
        """Every request `name` received, in arrival order, duplicates included."""
        with self._lock:
            return list(self._hooks[name].received)

    def unique(self, name: str) -> list[Received]:
        """What `name` received once deduplicated by webhook-id, in order of first arrival."""
        seen: set[str] = set()
        found = []
        for r in self.received(name):
            if r.id not in seen:
                seen.add(r.id)
                found.append(r)
        return found

    def wait_for(self, name: str, count: int, timeout: float = 60.0) -> list[Received]:
        """The unique messages of `name` once there are at least `count`; AssertionError after `timeout`."""
        deadline = time.monotonic() + timeout
        while len(found := self.unique(name)) < count:
            assert time.monotonic() < deadline, f"{name}: {len(found)} of {count} messages after {timeout} s"
            time.sleep(0.02)
        return found

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        raw = await request.read()
        headers = {k.lower(): v for k, v in request.headers.items()}
        hook = self._hooks[name]
        body, verified = None, False
        for secret in hook.secrets:
            try:
                body = Webhook(secret).verify(raw, headers)
                verified = True
                break
            except WebhookVerificationError:
                continue
        with self._lock:
            hook.received.append(
                Received(headers.get("webhook-id", ""), headers, body, verified, time.monotonic(), time.time())
            )
        if not verified:
            return web.Response(status=400, text="signature not verified")
        if hook.mode == STALL:
            if hook.released is None:
                hook.released = asyncio.Event()
            await hook.released.wait()
        if hook.mode == FAIL:
            return web.Response(status=500, text="receiver down for maintenance")
        if hook.mode == CLOSE:
            assert request.transport is not None
            request.transport.abort()
            raise web.HTTPInternalServerError()
        if hook.mode == REDIRECT:
            raise web.HTTPFound("https://example.invalid/elsewhere")
        return web.Response(status=204)
