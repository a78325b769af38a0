"""What a plain GraphQL-over-HTTP request asks for, read once before execution.

The response cache and the persisted queries both need the document, variables, operation name and
extensions before Strawberry executes; `read_request` reads them once and the view hands the same
`GraphQLRequestData` to Strawberry. Anything unusual (not JSON, a batch, uploads, a streamed response, a
field of the wrong type) is None here and left to Strawberry, which answers it exactly as it always does.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from strawberry.http import GraphQLRequestData


def _json(raw: str | bytes | None) -> tuple[bool, Any]:
    """(readable, value) of an optional JSON text; not JSON, or nested too deep, is unreadable."""
    if not raw:
        return True, None
    try:
        return True, json.loads(raw)
    except (ValueError, RecursionError):
        return False, None


async def read_request(request: Request) -> GraphQLRequestData | None:
    """The request's GraphQL parameters; None for anything Strawberry should read and answer itself."""
    accept = request.headers.get("accept", "")
    if "multipart/" in accept or "text/event-stream" in accept:
        return None  # incremental delivery and streamed subscriptions
    if request.method == "GET":
        params = request.query_params
        readable, variables = _json(params.get("variables"))
        readable_extensions, extensions = _json(params.get("extensions"))
        if not (readable and readable_extensions):
            return None
        query, operation_name = params.get("query"), params.get("operationName")
    elif request.method == "POST":
        if "application/json" not in request.headers.get("content-type", ""):
            return None
        # The body was read whole by BodySizeLimit; Starlette keeps it for Strawberry to read again.
        readable, data = _json(await request.body())
        if not readable or not isinstance(data, dict):
            return None
        query, variables = data.get("query"), data.get("variables")
        operation_name, extensions = data.get("operationName"), data.get("extensions")
    else:
        return None
    if not isinstance(query, str | None) or not isinstance(variables, dict | None):
        return None
    if not isinstance(operation_name, str | None) or not isinstance(extensions, dict | None):
        return None
    return GraphQLRequestData(query=query, variables=variables, operation_name=operation_name, extensions=extensions)
