"""A hand-written graphql-transport-ws client over `websockets`, frame by frame.

For what a library client hides: close codes, `error` frames, the exact
order of `next` messages, and dropping a connection at a chosen moment.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Origin, Subprotocol

PROTOCOL = Subprotocol("graphql-transport-ws")


class GraphQLWebSocket:
    """One acknowledged connection; operations are told apart by their ids."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self._pending: dict[str, list[dict[str, Any]]] = {}

    async def subscribe(self, op_id: str, query: str, variables: dict[str, Any] | None = None) -> None:
        payload = {"query": query, "variables": variables or {}}
        await self.ws.send(json.dumps({"id": op_id, "type": "subscribe", "payload": payload}))

    async def complete(self, op_id: str) -> None:
        await self.ws.send(json.dumps({"id": op_id, "type": "complete"}))

    async def receive(self, op_id: str, timeout: float = 10) -> dict[str, Any]:
        """The next `next`, `error` or `complete` message of one operation."""
        if queued := self._pending.get(op_id):
            return queued.pop(0)
        async with asyncio.timeout(timeout):
            while True:
                message: dict[str, Any] = json.loads(await self.ws.recv())
                if message["type"] == "ping":
                    await self.ws.send(json.dumps({"type": "pong"}))
                    continue
                if message.get("id") == op_id:
                    return message
                self._pending.setdefault(str(message.get("id")), []).append(message)

    async def take(self, op_id: str, count: int, field: str, timeout: float = 10) -> list[dict[str, Any]]:
        """The data of the next `count` messages, failing on anything but `next` without errors."""
        taken = []
        for _ in range(count):
            message = await self.receive(op_id, timeout)
            assert message["type"] == "next" and "errors" not in message["payload"], message
            taken.append(message["payload"]["data"][field])
        return taken

    async def nothing_more(self, op_id: str, wait: float = 0.5) -> None:
        """Fails if the operation sends anything within `wait` seconds."""
        try:
            message = await self.receive(op_id, wait)
        except TimeoutError:
            return
        raise AssertionError(f"unexpected message {message}")


@asynccontextmanager
async def graphql_ws(
    url: str, init_payload: dict[str, Any], origin: str | None = None, headers: dict[str, str] | None = None
) -> AsyncIterator[GraphQLWebSocket]:
    """Connect (with the handshake's extra `headers`), send connection_init and wait for connection_ack; closes
    on exit."""
    async with connect(
        url,
        subprotocols=[PROTOCOL],
        origin=Origin(origin) if origin else None,
        additional_headers=headers,
        open_timeout=10,
        close_timeout=5,
    ) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": init_payload}))
        async with asyncio.timeout(10):
            ack = json.loads(await ws.recv())
        assert ack["type"] == "connection_ack", ack
        yield GraphQLWebSocket(ws)
