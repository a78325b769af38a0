"""uvicorn's HTTP protocol with a deadline for each request's headers.

uvicorn's only time-out on a connection, `timeout_keep_alive`, runs between a response and the next request, and
any byte received cancels it: a client that connects and says nothing, or sends its headers a byte at a time
(slowloris), holds its connection for ever. Here every request's headers must arrive whole within
`header_timeout` seconds of the connection (or of the request's first byte, on a kept-alive connection); a
client that is later gets `408 Request Timeout` and its connection closed. Bodies and WebSockets are not timed.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger(__name__)

_TIMED_OUT = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"


class HeaderDeadlineProtocol(HttpToolsProtocol):
    """HttpToolsProtocol (uvicorn's default where httptools is installed, as it is here) with a header deadline."""

    def __init__(self, *args: Any, header_timeout: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout = header_timeout
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_deadline()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._start_deadline()  # a later request on a kept-alive connection; the first one's runs since connecting

    def on_headers_complete(self) -> None:
        self._cancel_deadline()
        super().on_headers_complete()

    def _start_deadline(self) -> None:
        if self._deadline is None:
            self._deadline = self.loop.call_later(self.header_timeout, self._headers_late)

    def _cancel_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _headers_late(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        log.info("closing a connection whose request headers took over %.0f s", self.header_timeout)
        self.transport.write(_TIMED_OUT)
        self.transport.close()


def http_protocol(header_timeout: float) -> type[asyncio.Protocol]:
    """What to give uvicorn as `http`: picklable, so `--workers` processes get it too."""
    made: Any = functools.partial(HeaderDeadlineProtocol, header_timeout=header_timeout)
    return made  # type: ignore[no-any-return]
