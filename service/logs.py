"""Log lines: readable text by default, one JSON object per line with `ML_LOG_FORMAT=json`; each line written
while a request is served carries its request id, principal, operation and trace id, which
service/request_ids.py (the outermost ASGI middleware) keeps in a context variable here.

`log_config()` is one `logging.config.dictConfig` for the commands and for uvicorn, which applies it again in
each worker process it starts.
"""

from __future__ import annotations

import logging
import os
import re
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

FORMATS: Final = ("text", "json")

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
