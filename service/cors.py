"""Cross-origin requests from the browser apps of `ML_ALLOWED_ORIGINS`.

A browser sends a cross-origin request only with the headers the preflight allows, and lets the page read
only the response headers it exposes. Allowed: the token and media types; `If-None-Match` (revalidating a
cached result, service/response_cache.py); W3C trace context (`traceparent`, `tracestate`) and
`X-Request-ID` from a page's tracing; `X-Min-Position` (reading its own writes from a standby,
service/replicas.py); Apollo Client's `apollographql-client-name` and
`apollographql-client-version`. Exposed: `ETag` (what to send back), `X-Request-ID` (what to quote in a
report of a failure), `X-Cache` and `traceparent` (the trace a request was logged under).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware

ALLOW_HEADERS: Final = (
    "authorization",
    "content-type",
    "accept",
    "if-none-match",
    "traceparent",
    "tracestate",
    "x-request-id",
    "x-min-position",
    "apollographql-client-name",
    "apollographql-client-version",
)
EXPOSE_HEADERS: Final = ("etag", "x-request-id", "x-cache", "traceparent")


def middleware(origins: Iterable[str]) -> Middleware:
    return Middleware(
        CORSMiddleware,
        allow_origins=list(origins),
        allow_methods=["GET", "POST"],
        allow_headers=list(ALLOW_HEADERS),
        expose_headers=list(EXPOSE_HEADERS),
    )
