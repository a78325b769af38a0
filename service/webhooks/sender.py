"""Sending one attempt: a POST that follows no redirect, waits a bounded time and reads a bounded body.

One aiohttp session serves every webhook, with no limit on connections: each webhook has at most one
request in flight (its messages go in order), so a receiver that stalls holds its own connection and
nobody else's. The session's resolver is `SafeResolver`, and it ignores proxy settings from the
environment: a proxy would connect to addresses nobody checked.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import aiohttp
from aiohttp.abc import AbstractResolver

from service.webhooks.resolver import SafeResolver
from service.webhooks.safety import Refused, check_url
from service.webhooks.settings import WebhookSettings

# How much of a failed response's body the delivery log keeps.
ERROR_TEXT = 300


@dataclass(frozen=True)
class Outcome:
    """How an attempt went: the status, if any answer came, how long it took, and what went wrong."""

    status: int | None
    seconds: float
    error: str | None = None

    @property
    def delivered(self) -> bool:
        return self.error is None and self.status is not None and 200 <= self.status < 300


class Sender:
    """Posts signed messages to receivers; open it inside the event loop that uses it."""

    def __init__(self, settings: WebhookSettings, dns: AbstractResolver | None = None) -> None:
        """`dns` answers names (default: the system's resolver); SafeResolver checks its answers."""
        self.settings = settings
        resolver = SafeResolver(settings.allowed, dns)
        connector = aiohttp.TCPConnector(limit=0, resolver=resolver, ttl_dns_cache=10)
        self.session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=settings.timeout_seconds),
            trust_env=False,
            auto_decompress=False,
            headers={"user-agent": "measure-ledger-webhooks"},
        )

    async def close(self) -> None:
        await self.session.close()

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> Outcome:
        """One attempt; never raises for anything the receiver or the network does."""
        started = time.monotonic()
        try:
            check_url(url, self.settings.allowed)
            async with self.session.post(url, data=body, headers=headers, allow_redirects=False) as response:
                text, cut = await self._read(response)
                status = response.status
                if cut:
                    response.close()  # do not read the rest, nor reuse the connection
        except Refused as e:
            return Outcome(None, time.monotonic() - started, f"refused: the URL {e}")
        except TimeoutError:
            return Outcome(None, time.monotonic() - started, f"no response within {self.settings.timeout_seconds:g} s")
        except aiohttp.ClientConnectorError as e:
            return Outcome(None, time.monotonic() - started, f"could not connect: {e.os_error or e}")
        except (aiohttp.ClientError, OSError) as e:
            return Outcome(None, time.monotonic() - started, f"{type(e).__name__}: {e}"[:ERROR_TEXT])
        seconds = time.monotonic() - started
        if 200 <= status < 300:
            return Outcome(status, seconds)
        if 300 <= status < 400:
            where = response.headers.get("location", "")[:200]
            return Outcome(status, seconds, f"HTTP {status}: redirects are not followed (to {where})")
        snippet = text.decode("utf-8", "replace").strip()[:ERROR_TEXT]
        return Outcome(status, seconds, f"HTTP {status}" + (f": {snippet}" if snippet else ""))

    async def _read(self, response: aiohttp.ClientResponse) -> tuple[bytes, bool]:
        """Up to the cap of the body, and whether it was longer."""
        cap = self.settings.max_response_bytes
        chunks: list[bytes] = []
        size = 0
        while size <= cap:
            chunk = await response.content.read(min(64 << 10, cap + 1 - size))
            if not chunk:
                return b"".join(chunks), False
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)[:cap], True
