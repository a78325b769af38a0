"""What a plain GraphQL-over-HTTP request asks for, read once before execution.

The response cache and the persisted queries both need the document, variables, operation name and
extensions before Strawberry executes; `read_request` reads them once and the view hands the same
`GraphQLRequestData` to Strawberry. Anything unusual (not JSON, a batch, uploads, a streamed response, a
field of the wrong type) is None here and left to Strawberry, which answers it exactly as it always does. JSON
nested deeper than any request needs is refused here, and wherever else JSON is read (`decode_json`).
"""

from __future__ import annotations

import json
from codecs import BOM_UTF8
from typing import Any

from cross_web import HTTPException
from starlette.requests import Request
from strawberry.http import GraphQLRequestData

# Far deeper than any request of this schema (an input object in a list in the variables is five levels), and far
# shallower than the nesting at which a recursive parser or encoder meets Python's recursion limit: a 2 KB body
# of a thousand nested arrays would otherwise fail as an internal error wherever it was read or written.
MAX_JSON_DEPTH = 32


class UnreadableJSON(ValueError):
    """Input that is not JSON this service reads, for a reason worth saying rather than just "not JSON"."""


class NestedTooDeep(UnreadableJSON):
    """A JSON text nested deeper than MAX_JSON_DEPTH: malformed input, said as such."""

    def __init__(self) -> None:
        super().__init__(f"the JSON is nested too deep: at most {MAX_JSON_DEPTH} levels of arrays and objects")


def decode_json(raw: str | bytes) -> Any:
    """The value of a JSON text; UnreadableJSON if it is not UTF-8 (RFC 8259 allows no other encoding between
    systems), or nests arrays and objects deeper than MAX_JSON_DEPTH."""
    if isinstance(raw, bytes):
        try:
            # A byte order mark is allowed, as json.loads allows it. Taken off here and decoded as plain UTF-8:
            # the "utf-8-sig" codec is Python code, "utf-8" the interpreter's own.
            raw = (raw[len(BOM_UTF8) :] if raw.startswith(BOM_UTF8) else raw).decode("utf-8")
        except UnicodeDecodeError as e:
            raise UnreadableJSON(f"the request body is not UTF-8: byte {e.start} cannot be decoded") from None
    try:
        value = json.loads(raw)
    except RecursionError:
        raise NestedTooDeep() from None
    if raw.count("{") + raw.count("[") <= MAX_JSON_DEPTH:
        return value  # each level opens with one of these, so no text with this few can nest deeper
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        if depth > MAX_JSON_DEPTH:
            raise NestedTooDeep()
        pending.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return value


def _json(raw: str | bytes | None) -> tuple[bool, Any]:
    """(readable, value) of an optional JSON text; not JSON is unreadable, not UTF-8 or nested too deep a 400."""
    if not raw:
        return True, None
    try:
        return True, decode_json(raw)
    except UnreadableJSON as e:
        raise HTTPException(400, str(e)) from None
    except ValueError:
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
