"""`RequestIds`, the outermost ASGI middleware: every HTTP request and WebSocket gets an id — the client's
`X-Request-ID` if it is usable, else a new one — and a W3C `traceparent` is taken when it is well formed. Both
are returned in the response's headers, and kept for the request's log lines (service/logs.py). At the end of
an HTTP request it writes one line on the `service.access` logger: method, path, status, the GraphQL
operation and its outcome, and the duration.

Apart from service/logs.py, which every process loads to set up its logging, so that a process serving no
requests (the projector) loads neither Starlette nor the tracing.
"""

from __future__ import annotations

import logging
import time
from typing import Final

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service import tracing
from service.logs import CURRENT, RequestLog, request_id, trace_id

ACCESS: Final = logging.getLogger("service.access")


class RequestIds:
    """ASGI middleware: each request's id and trace context, in its response headers and its log lines."""

    def __init__(self, app: ASGIApp, *, trace: bool = False) -> None:
        self.app = app
        # OpenTelemetry on (service/tracing.py): the request's spans continue the trace it names.
        self.trace = trace

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        # Only the two headers read here are decoded (every request passes through this); the last of each.
        sent = dict(scope["headers"])
        sent_id, traceparent = sent.get(b"x-request-id"), sent.get(b"traceparent")
        if sent_id is not None:
            sent_id = sent_id.decode("latin-1")
        if traceparent is not None:
            traceparent = traceparent.decode("latin-1")
        current = RequestLog(request_id(sent_id), trace_id(traceparent))
        scope.setdefault("state", {})["request_id"] = current.request_id
        token = CURRENT.set(current)
        # The whole header list for OpenTelemetry's propagator only when tracing is on. This frame lives as long
        # as a WebSocket does: it keeps no copy of the headers (a KiB per subscriber).
        undo = tracing.continue_trace(_decoded(scope["headers"])) if self.trace else None
        started = time.perf_counter()
        status = 0

        async def send_with_ids(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = message["headers"]
                if current.trace_id is not None or b"x-request-id" in dict(headers):
                    answered = MutableHeaders(scope=message)
                    answered["x-request-id"] = current.request_id
                    if current.trace_id is not None and traceparent is not None:
                        answered["traceparent"] = traceparent.strip()
                else:  # as MutableHeaders would add it, without reading the list again
                    message["headers"] = [*headers, (b"x-request-id", current.request_id.encode())]
            elif message["type"] == "websocket.accept":
                message = {
                    **message,
                    "headers": [*message.get("headers", []), (b"x-request-id", current.request_id.encode())],
                }
            await send(message)

        try:
            await self.app(scope, receive, send_with_ids)
        except BaseException:
            status = status or 500  # answered by Starlette's ServerErrorMiddleware, outside this one
            raise
        finally:
            if scope["type"] == "http":
                _access(scope, status, time.perf_counter() - started)
            if undo is not None:
                undo()
            CURRENT.reset(token)


def _decoded(headers: list[tuple[bytes, bytes]]) -> dict[str, str]:
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in headers}


def _access(scope: Scope, status: int, seconds: float) -> None:
    if not ACCESS.isEnabledFor(logging.INFO):
        return  # nothing of the line is made when it would not be written
    current = CURRENT.get()
    operation = current.operation if current is not None else None
    outcome = current.outcome if current is not None else None
    what = f" {operation} {outcome or 'ok'}" if operation else ""
    ACCESS.info(
        "%s %s %s%s in %.1f ms",
        scope["method"],
        scope["path"],
        status or "-",
        what,
        seconds * 1000,
        extra={"duration_ms": round(seconds * 1000, 3), "status": status, "method": scope["method"]},
    )
