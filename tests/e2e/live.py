"""A real uvicorn server in a thread, and a small GraphQL client over real HTTP."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette

from service.app import create_app
from service.settings import Settings
from service.webhooks.safety import AllowedHosts
from service.webhooks.settings import WebhookSettings


class LiveServer:
    """Serves an ASGI app on a free loopback port until stopped."""

    def __init__(self, app: Starlette) -> None:
        config = uvicorn.Config(
            app, host="127.0.0.1", port=0, lifespan="on", log_level="warning", ws="websockets-sansio"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.02)
        return self

    @property
    def port(self) -> int:
        port: int = self.server.servers[0].sockets[0].getsockname()[1]
        return port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)


@contextmanager
def serving(database_url: str, **settings: Any) -> Iterator[LiveServer]:
    """The whole service over `database_url`, with these settings and no demo plan, until the block ends."""
    server = LiveServer(create_app(Settings(database_url=database_url, load_demo=False, **settings))).start()
    try:
        yield server
    finally:
        server.stop()


def local_webhooks(**changes: Any) -> WebhookSettings:
    """Webhook settings that let the service call a receiver on 127.0.0.1, and look for work twice a second."""
    return WebhookSettings(allowed=AllowedHosts.parse("127.0.0.1"), poll_seconds=0.5, **changes)


@dataclass
class GraphQLClient:
    """Posts GraphQL documents the way a frontend would."""

    url: str
    token: str | None = None

    def post(self, query: str, variables: dict[str, Any] | None = None, **headers: str) -> httpx.Response:
        h = {"accept": "application/json", **headers}
        if self.token:
            h["authorization"] = f"Bearer {self.token}"
        return httpx.post(
            self.url + "/graphql", json={"query": query, "variables": variables or {}}, headers=h, timeout=30
        )

    def execute(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The data of a request that must succeed."""
        response = self.post(query, variables)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        assert "errors" not in body, body["errors"]
        data: dict[str, Any] = body["data"]
        return data

    def errors(self, query: str, variables: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """The errors of a request that must fail, never with a 500."""
        response = self.post(query, variables)
        assert response.status_code < 500, response.text
        body: dict[str, Any] = response.json()
        assert body.get("errors"), body
        errors: list[dict[str, Any]] = body["errors"]
        return errors

    def as_(self, token: str | None) -> GraphQLClient:
        return GraphQLClient(self.url, token)
