"""Content coding: which encoding a client accepts, and gzip done once per body.

Responses the service answers again and again (cached query results, GraphiQL's assets) are compressed once
and kept compressed beside their identity bytes; everything else is compressed on the way out by Starlette's
GZipMiddleware (`middleware()`), which passes a response that already carries a Content-Encoding untouched.
Two encodings of one result are two representations: each has its own strong ETag, and every response that
could have been encoded otherwise says `Vary: Accept-Encoding`.

gzip only: the standard library has it, every HTTP client accepts it, and JSON compresses about twentyfold.
"""

from __future__ import annotations

import functools
import zlib
from typing import Final

import anyio.to_thread
from starlette.datastructures import MutableHeaders
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware, GZipResponder, IdentityResponder
from starlette.types import ASGIApp, Message, Receive, Scope, Send

GZIP: Final = "gzip"
# Below this a body gains little and costs a gzip header; Starlette's own default.
MIN_BYTES: Final = 500
# zlib's default: level 9 takes about twice as long for a body a percent or two smaller.
LEVEL: Final = 6
# Compressing more than this on the event loop would hold up every other request for a few milliseconds.
THREAD_BYTES: Final = 128 * 1024


@functools.lru_cache(maxsize=256)  # clients send the same few headers again and again
def accepts_gzip(accept_encoding: str | None) -> bool:
    """Whether an Accept-Encoding header admits gzip (RFC 9110 §12.5.3: `gzip;q=0` refuses it, `*` admits it)."""
    if not accept_encoding:
        return False
    admitted: dict[str, bool] = {}
    for item in accept_encoding.split(","):
        coding, _, params = item.partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        admitted[coding.strip().lower()] = quality > 0
    if GZIP in admitted:
        return admitted[GZIP]
    if "x-gzip" in admitted:
        return admitted["x-gzip"]
    return admitted.get("*", False)


def worth_compressing(body: bytes) -> bool:
    return len(body) >= MIN_BYTES


def gzip_bytes(body: bytes) -> bytes:
    """The gzip encoding of `body` (a gzip member, as `Content-Encoding: gzip` means)."""
    compressor = zlib.compressobj(LEVEL, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return compressor.compress(body) + compressor.flush()


async def gzip_off_loop(body: bytes) -> bytes:
    """`gzip_bytes`, in a worker thread for a large body."""
    if len(body) < THREAD_BYTES:
        return gzip_bytes(body)
    return await anyio.to_thread.run_sync(gzip_bytes, body)


class GZip(GZipMiddleware):
    """Starlette's, deciding as `accepts_gzip` does (it only looks for "gzip" in the header, so it would compress
    for `gzip;q=0` a cached result already chosen, and given its ETag, as identity), and naming each header in
    Vary once (it adds Accept-Encoding to a Vary that may hold it already)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        accept_encoding = _accept_encoding(scope)
        # Starlette's own test of the header picks its responder once gzip is admitted.
        gzip = accepts_gzip(accept_encoding) and "gzip" in (accept_encoding or "")
        await self.app(scope, receive, _Outgoing(self, send, gzip))

    def responder(self, gzip: bool, send: Send) -> IdentityResponder:
        """Starlette's responder for this client, sending through `send`."""
        responder: IdentityResponder
        if gzip:
            responder = GZipResponder(
                self.app,
                self.minimum_size,
                compresslevel=self.compresslevel,
                thread_minimum_size=self.thread_minimum_size,
                exclude_content_types=(),
            )
            responder.exclude_content_types = self.exclude_content_types
        else:
            responder = _Identity(self.app, self.minimum_size, self.exclude_content_types)
        responder.send = send
        return responder


class _Outgoing:
    """One response on its way out. Most of what the service answers again and again (cached results, assets)
    is already encoded as the client asked, its Vary naming Accept-Encoding: Starlette's responder would pass it
    on as it is, so it is sent on at once, without a responder or the headers read more than once."""

    __slots__ = ("middleware", "send", "gzip", "responder")

    def __init__(self, middleware: GZip, send: Send, gzip: bool) -> None:
        self.middleware, self.send, self.gzip = middleware, send, gzip
        self.responder: IdentityResponder | None = None

    async def __call__(self, message: Message) -> None:
        if self.responder is not None:
            await self.responder.send_with_compression(message)
        elif message["type"] != "http.response.start" or self._as_it_is(message.setdefault("headers", [])):
            await self.send(message)
        else:
            self.responder = self.middleware.responder(self.gzip, self._vary_once)
            await self.responder.send_with_compression(message)

    def _as_it_is(self, headers: list[tuple[bytes, bytes]]) -> bool:
        """Whether the responder would send this response on unchanged: it carries a Content-Encoding, or the
        client takes identity and its Vary already ends with Accept-Encoding (the responder adds that name
        last, then it is named once); and its one Vary names each header once already."""
        found = dict(headers)
        if len(found) < len(headers):
            return False  # a name twice (two Vary headers would be made one): left to the responder
        encoded = b"content-encoding" in found
        vary = found.get(b"vary")
        if vary is None:
            return encoded
        once, last_accept_encoding = _vary_names(vary)
        return once and (encoded or (last_accept_encoding and not self.gzip))

    async def _vary_once(self, message: Message) -> None:
        # Looked for in the raw list first: most responses have no Vary.
        if message["type"] == "http.response.start" and any(k.lower() == b"vary" for k, _ in message["headers"]):
            headers = MutableHeaders(raw=message["headers"])
            headers["vary"] = _named_once(headers["vary"])
        await self.send(message)


def _named_once(vary: str) -> str:
    names = {name.strip().lower(): name.strip() for name in reversed(vary.split(","))}
    return ", ".join(reversed(names.values()))


@functools.lru_cache(maxsize=256)
def _vary_names(vary: bytes) -> tuple[bool, bool]:
    """Whether a Vary value names each header once as `_named_once` spells it, and whether Accept-Encoding is its
    last name (a response's Vary is one of the service's few)."""
    value = vary.decode("latin-1")
    once = _named_once(value)
    return once == value, once.rpartition(",")[2].strip().lower() == "accept-encoding"


def _accept_encoding(scope: Scope) -> str | None:
    """The request's Accept-Encoding (the first, as Starlette's Headers gives), without making a Headers of every
    request's headers."""
    value = dict(reversed(scope["headers"])).get(b"accept-encoding")
    return None if value is None else str(value.decode("latin-1"))


class _Identity(IdentityResponder):
    """Starlette's responder for a client that takes no gzip, given the middleware's content types as it already
    normalised them rather than normalising them again for every request."""

    def __init__(self, app: ASGIApp, minimum_size: int, exclude_content_types: tuple[str, ...]) -> None:
        super().__init__(app, minimum_size, exclude_content_types=())
        self.exclude_content_types = exclude_content_types


def middleware() -> Middleware:
    """Compression of every other response, on the fly, when the client accepts gzip."""
    return Middleware(GZip, minimum_size=MIN_BYTES, compresslevel=LEVEL, thread_minimum_size=THREAD_BYTES)
