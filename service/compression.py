"""Content coding: which encoding a client accepts, and gzip done once per body.

Responses the service answers again and again (cached query results, GraphiQL's assets) are compressed once
and kept compressed beside their identity bytes; everything else is compressed on the way out by Starlette's
GZipMiddleware (`middleware()`), which passes a response that already carries a Content-Encoding untouched.
Two encodings of one result are two representations: each has its own strong ETag, and every response that
could have been encoded otherwise says `Vary: Accept-Encoding`.

gzip only: the standard library has it, every HTTP client accepts it, and JSON compresses about twentyfold.
"""

from __future__ import annotations

import zlib
from typing import Final

import anyio.to_thread
from starlette.datastructures import MutableHeaders
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware, IdentityResponder
from starlette.types import ASGIApp, Message, Receive, Scope, Send

GZIP: Final = "gzip"
# Below this a body gains little and costs a gzip header; Starlette's own default.
MIN_BYTES: Final = 500
# zlib's default: level 9 takes about twice as long for a body a percent or two smaller.
LEVEL: Final = 6
# Compressing more than this on the event loop would hold up every other request for a few milliseconds.
THREAD_BYTES: Final = 128 * 1024


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

        async def send_vary_once(message: Message) -> None:
            # Looked for in the raw list first: most responses have no Vary, and this runs for every one.
            if message["type"] == "http.response.start" and any(k.lower() == b"vary" for k, _ in message["headers"]):
                headers = MutableHeaders(raw=message["headers"])
                names = {name.strip().lower(): name.strip() for name in reversed(headers["vary"].split(","))}
                headers["vary"] = ", ".join(reversed(names.values()))
            await send(message)

        if accepts_gzip(_accept_encoding(scope)):
            await super().__call__(scope, receive, send_vary_once)
        else:
            identity = _Identity(self.app, self.minimum_size, self.exclude_content_types)
            await identity(scope, receive, send_vary_once)


def _accept_encoding(scope: Scope) -> str | None:
    """The request's Accept-Encoding (the first, as Starlette's Headers gives), without making a Headers of every
    request's headers."""
    for name, value in scope["headers"]:
        if name.lower() == b"accept-encoding":
            return str(value.decode("latin-1"))
    return None


class _Identity(IdentityResponder):
    """Starlette's responder for a client that takes no gzip, given the middleware's content types as it already
    normalised them rather than normalising them again for every request."""

    def __init__(self, app: ASGIApp, minimum_size: int, exclude_content_types: tuple[str, ...]) -> None:
        super().__init__(app, minimum_size, exclude_content_types=())
        self.exclude_content_types = exclude_content_types


def middleware() -> Middleware:
    """Compression of every other response, on the fly, when the client accepts gzip."""
    return Middleware(GZip, minimum_size=MIN_BYTES, compresslevel=LEVEL, thread_minimum_size=THREAD_BYTES)
