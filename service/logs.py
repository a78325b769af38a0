"""Log lines: readable text by default, one JSON object per line with `ML_LOG_FORMAT=json`; each line written
while a request is served carries its request id, principal, operation and trace id.

`RequestIds` (the outermost ASGI middleware) gives every HTTP request and WebSocket an id — the client's
`X-Request-ID` if it is usable, else a new one — and takes a W3C `traceparent` when it is well formed. Both are
returned in the response's headers, and kept in a context variable for the request's log lines. At the end
of an HTTP request it writes one line on the `service.access` logger: method, path, status, the GraphQL
operation and its outcome, and the duration.

`log_config()` is one `logging.config.dictConfig` for the commands and for uvicorn, which applies it again in
each worker process it starts.
"""

from __future__ import annotations

import logging
import os
import re
import time
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from pythonjsonlogger.json import JsonFormatter as _JsonFormatter
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service import tracing

FORMATS: Final = ("text", "json")
ACCESS: Final = logging.getLogger("service.access")

# A client's own request id is kept if it is one a log line can carry as it is (a UUID, a trace's span id).
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
# W3C Trace Context, version 00 and the versions after it (which may append fields): ff is no version, and
# an all-zero trace id or parent id is invalid.
_TRACEPARENT = re.compile(r"(?P<version>[0-9a-f]{2})-(?P<trace>[0-9a-f]{32})-(?P<parent>[0-9a-f]{16})-[0-9a-f]{2}")


def request_id(sent: str | None) -> str:
    """The id a request is logged and answered under: the client's X-Request-ID if it sent a usable one."""
    if sent is not None and _REQUEST_ID.fullmatch(sent):
        return sent
    return os.urandom(8).hex()  # 16 hex digits, as random as a UUID's first 16 (one of which is its version)


def trace_id(traceparent: str | None) -> str | None:
    """The trace id of a well-formed `traceparent`; None for a missing or malformed one (which is ignored)."""
    if traceparent is None:
        return None
    value = traceparent.strip()
    found = _TRACEPARENT.match(value)
    if found is None or found["version"] == "ff":
        return None
    if found["version"] == "00" and len(value) != found.end():
        return None  # version 00 has exactly four fields
    if len(value) > found.end() and value[found.end()] != "-":
        return None
    if found["trace"] == "0" * 32 or found["parent"] == "0" * 16:
        return None
    return found["trace"]


@dataclass
class RequestLog:
    """What a request's log lines say of it; the service fills in who asked and what, as it learns them."""

    request_id: str
    trace_id: str | None = None
    principal: str | None = None
    operation: str | None = None
    outcome: str | None = None


CURRENT: ContextVar[RequestLog | None] = ContextVar("request_log", default=None)


def note(*, principal: str | None = None, operation: str | None = None, outcome: str | None = None) -> None:
    """Record what the service has learnt of the request being served, for its log lines."""
    current = CURRENT.get()
    if current is None:
        return
    if principal is not None:
        current.principal = principal
    if operation is not None:
        current.operation = operation
    if outcome is not None:
        current.outcome = outcome


def current_request_id() -> str | None:
    current = CURRENT.get()
    return None if current is None else current.request_id


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


class RequestContext(logging.Filter):
    """Adds the request being served (if any) to every record, as attributes the formatters read."""

    def filter(self, record: logging.LogRecord) -> bool:
        current = CURRENT.get()
        record.request_id = current.request_id if current else None
        record.trace_id = current.trace_id if current else None
        record.principal = current.principal if current else None
        record.operation = current.operation if current else None
        return True


class TextFormatter(logging.Formatter):
    """`2026-12-05 04:00:00,123 INFO service.access: message [request=… principal=… operation=…]`."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        context = [
            f"{name}={value}"
            for name in ("request_id", "principal", "operation")
            if (value := getattr(record, name, None)) is not None
        ]
        if not context:
            return line
        first, newline, rest = line.partition("\n")  # a traceback stays below its line
        return f"{first} [{' '.join(context)}]{newline}{rest}"


class JsonFormatter(_JsonFormatter):
    """One JSON object per line: time (UTC), level, logger, message, the request's fields, and extras."""

    def __init__(self) -> None:
        super().__init__(
            ["levelname", "name", "message"],
            rename_fields={"levelname": "level", "name": "logger"},
        )

    def add_fields(self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]) -> None:
        log_data["time"] = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        super().add_fields(log_data, record, message_dict)
        for name in ("request_id", "trace_id", "principal", "operation"):
            if log_data.get(name) is None:
                log_data.pop(name, None)


def log_config(log_format: str, level: str = "INFO") -> dict[str, Any]:
    """The logging set-up of every process: the root logger and uvicorn's, on stderr, in `log_format`."""
    formatter = "service.logs.JsonFormatter" if log_format == "json" else "service.logs.TextFormatter"
    handler = {"class": "logging.StreamHandler", "stream": "ext://sys.stderr", "formatter": "main"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request": {"()": "service.logs.RequestContext"}},
        "formatters": {"main": {"()": formatter}},
        "handlers": {"main": {**handler, "filters": ["request"]}},
        "root": {"handlers": ["main"], "level": level},
        # uvicorn's own loggers, which it would otherwise give handlers of its own.
        "loggers": {
            "uvicorn": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.error": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.access": {"handlers": [], "level": level, "propagate": True},
        },
    }
