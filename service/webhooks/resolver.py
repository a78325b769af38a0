"""The webhook sender's resolver: the only addresses a webhook is ever connected to are those it passes.

Apart from the rules in service/webhooks/safety.py so that reading settings does not load the HTTP client.
"""

from __future__ import annotations

import socket

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from service.webhooks.safety import AllowedHosts, address_of, is_public


class SafeResolver(AbstractResolver):
    """The HTTP client's resolver: a host's addresses, less those webhooks may not be sent to."""

    def __init__(self, allowed: AllowedHosts, inner: AbstractResolver | None = None) -> None:
        self._allowed = allowed
        self._inner = inner or DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        if self._allowed.host(host):
            return found
        kept = [
            r for r in found if (a := address_of(r["host"])) is not None and (is_public(a) or self._allowed.address(a))
        ]
        if not kept:
            addresses = ", ".join(sorted({r["host"] for r in found})) or "nothing"
            raise OSError(f"{host} resolves to {addresses}: private, loopback or link-local addresses are refused")
        return kept

    async def close(self) -> None:
        await self._inner.close()
