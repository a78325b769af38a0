"""Signing keys for JWT verification: a JWKS document fetched from one configured URL, or read from a file.

Keys are fetched only from the configured URL (never from a `jku`/`x5u`
header of the token being checked, and without following redirects), kept for
a TTL, and fetched again early when a token names an unknown key id (the
identity provider rotated its keys) but at most once per `min_refresh` seconds,
so tokens with made-up key ids cannot make us hammer the provider.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jwt import PyJWK, PyJWKSet
from jwt.exceptions import PyJWKError, PyJWKSetError

from service.auth.errors import AuthenticationError

log = logging.getLogger(__name__)

MAX_JWKS_BYTES = 1 << 20
Fetch = Callable[[str, float], Awaitable[dict[str, Any]]]


def check_jwks_url(url: str) -> None:
    """Keys must come over HTTPS, except from this machine (a local identity provider in development)."""
    parts = urlsplit(url)
    local = parts.hostname in ("localhost", "127.0.0.1", "::1")
    if parts.scheme != "https" and not (parts.scheme == "http" and local):
        raise ValueError(f"the JWKS URL must be https (http only for localhost), not {url[:80]!r}")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a redirect would fetch keys from somewhere not configured


def _fetch_sync(url: str, timeout: float) -> dict[str, Any]:
    opener = urllib.request.build_opener(_NoRedirect)
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    with opener.open(request, timeout=timeout) as response:
        body = response.read(MAX_JWKS_BYTES + 1)
    if len(body) > MAX_JWKS_BYTES:
        raise ValueError("JWKS document larger than 1 MiB")
    data = json.loads(body)
    if not isinstance(data, dict):
        raise ValueError("JWKS document is not a JSON object")
    return data


async def fetch_jwks(url: str, timeout: float) -> dict[str, Any]:
    """GET a JWKS document; urllib blocks, so in a worker thread."""
    return await asyncio.to_thread(_fetch_sync, url, timeout)


def _parse(data: dict[str, Any]) -> list[PyJWK]:
    try:
        return list(PyJWKSet.from_dict(data))
    except (PyJWKSetError, PyJWKError) as e:
        raise ValueError(f"unusable JWKS: {e}") from None


class KeySource:
    """Finds the key a token names (by `kid`) for the algorithm it declares."""

    def __init__(self, keys: list[PyJWK] | None = None) -> None:
        self._keys: list[PyJWK] = keys or []

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> KeySource:
        """From a JWKS document (`{"keys": [...]}`)."""
        return cls(_parse(data))

    @classmethod
    def from_file(cls, path: Path) -> KeySource:
        return cls.from_dict(json.loads(path.read_text()))

    async def key(self, kid: str | None, algorithm: str) -> PyJWK:
        return self._select(kid, algorithm)

    def _find(self, kid: str | None, algorithm: str) -> PyJWK | None:
        usable = [k for k in self._keys if k.algorithm_name == algorithm and k.public_key_use in (None, "sig")]
        if kid is None:
            # Without a key id, only an unambiguous key will do.
            return usable[0] if len(usable) == 1 else None
        return next((k for k in usable if k.key_id == kid), None)

    def _select(self, kid: str | None, algorithm: str) -> PyJWK:
        found = self._find(kid, algorithm)
        if found is None:
            named = f"key id {kid!r}" if kid else "no key id"
            raise AuthenticationError(f"the token is signed with an unknown key ({named}, {algorithm})")
        return found


class JwksCache(KeySource):
    """A KeySource fetched from a URL and kept for `ttl` seconds."""

    def __init__(
        self,
        url: str,
        *,
        ttl: float = 300.0,
        min_refresh: float = 30.0,
        timeout: float = 5.0,
        fetch: Fetch | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        check_jwks_url(url)
        super().__init__()
        self.url, self.ttl, self.min_refresh, self.timeout = url, ttl, min_refresh, timeout
        self._fetch: Fetch = fetch or fetch_jwks
        self._clock = clock
        self._fetched_at: float | None = None
        self._lock = asyncio.Lock()
        self.fetches = 0  # for tests and metrics

    async def key(self, kid: str | None, algorithm: str) -> PyJWK:
        now = self._clock()
        stale = self._fetched_at is None or now - self._fetched_at >= self.ttl
        if stale or (self._find(kid, algorithm) is None and now - (self._fetched_at or 0.0) >= self.min_refresh):
            await self._refresh(now)
        return self._select(kid, algorithm)

    async def _refresh(self, seen_at: float) -> None:
        async with self._lock:
            if self._fetched_at is not None and self._fetched_at > seen_at:
                return  # another request refreshed while we waited
            try:
                keys = _parse(await self._fetch(self.url, self.timeout))
            except Exception as e:  # any failure to get keys is handled alike
                # Keep serving the keys we have rather than refusing everyone while
                # the provider is briefly down; try again after min_refresh.
                log.warning("could not fetch the JWKS from %s: %s", self.url, e)
                if not self._keys:
                    raise AuthenticationError("the identity provider's signing keys are unavailable") from None
                self._fetched_at = self._clock() - self.ttl + self.min_refresh
                return
            self._keys = keys
            self._fetched_at = self._clock()
            self.fetches += 1
