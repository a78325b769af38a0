"""GraphQL over HTTP: media types and status codes as the GraphQL-over-HTTP specification gives them.

Clients that accept `application/graphql-response+json` get it, with 400 for
a request that never reached execution; everyone else gets `application/json`
and 200. Every error carries `extensions.code`; unexpected ones are masked.

With the response cache on (service/response_cache.py), a query's result
carries an ETag, is served again until its plans change, and `If-None-Match`
is answered with 304, on GET and on POST alike.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import uuid
from dataclasses import dataclass
from typing import Any

from cross_web import HTTPException
from graphql import ExecutionResult, GraphQLError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http.typevars import Context, RootValue

from service.auth.authenticate import authenticate, bearer_from_header, bearer_from_params, principal_for
from service.auth.errors import AuthenticationError
from service.auth.principal import Principal
from service.response_cache import ResponseCache, matches
from service.response_cache import Scope as ReadScope
from service.schema.context import Context as LedgerContext
from service.schema.context import Services
from service.ws import LedgerTransportWSHandler, encode_message

log = logging.getLogger(__name__)

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"


def wants_graphql_response(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return GRAPHQL_RESPONSE in accept


# Sent with every cacheable answer. `private`: a result is for its caller's eyes only, so no shared cache may
# keep it; `no-cache`: a client may keep it but must revalidate (If-None-Match) before using it again.
# Vary: the result depends on who asks (Authorization) and its media type on Accept.
CACHE_CONTROL = "private, no-cache"
VARY = "Authorization, Accept"


@dataclass(frozen=True)
class Lookup:
    """A cacheable request: its key, the state of what it reads, and the ETag that state gives."""

    key: bytes
    scope: ReadScope
    validator: str
    media_type: str
    etag: str


async def graphql_request(request: Request) -> tuple[str, dict[str, Any], str | None] | None:
    """The query, variables and operation name of a plain GraphQL-over-HTTP request; None for anything else.

    Anything unusual (not JSON, a batch, extensions, uploads) is left to Strawberry, uncached, so that it
    answers exactly as it would without the cache.
    """
    if request.method == "GET":
        params = request.query_params
        if params.get("extensions"):
            return None
        query, raw, operation_name = params.get("query"), params.get("variables"), params.get("operationName")
        try:
            variables = json.loads(raw) if raw else None
        except (ValueError, RecursionError):  # not JSON, or nested too deep: Strawberry answers as it always does
            return None
    elif request.method == "POST":
        if "application/json" not in request.headers.get("content-type", ""):
            return None
        try:
            # The body was read whole by BodySizeLimit; Starlette keeps it for Strawberry to read again.
            data = json.loads(await request.body())
        except (ValueError, RecursionError):
            return None
        if not isinstance(data, dict) or data.get("extensions"):
            return None
        query, variables, operation_name = data.get("query"), data.get("variables"), data.get("operationName")
    else:
        return None
    if not isinstance(query, str) or not isinstance(variables, dict | None):
        return None
    if not isinstance(operation_name, str | None):
        return None
    return query, variables or {}, operation_name


# graphql-core names the input path in its coercion messages, e.g.
#   Variable '$input' has invalid value at .quarter: Value 'Q5' does not exist ...
#   Variable '$input' got invalid value 'Q5' at 'input.quarter'; ...   (older releases)
#   Field 'reason' of required type 'String!' was not provided.
_AT_PATH = re.compile(r"at '?[\w$]*((?:\.\w+|\[\d+\])+)'?[:;]")
_REQUIRED = re.compile(r"(?:Field '(\w+)' of required type|include required field '(\w+)')")


def field_at_fault(message: str) -> str | None:
    """The input field a validation message is about, as the domain names fields."""
    if m := _AT_PATH.search(message):
        return m.group(1).lstrip(".")
    if m := _REQUIRED.search(message):
        return m.group(1) or m.group(2)
    return None


def coded(error: GraphQLError, formatted: dict[str, Any], request_id: str) -> dict[str, Any]:
    """Give an error its code; hide the details of one nobody expected."""
    extensions = dict(formatted.get("extensions") or {})
    if "code" in extensions:
        formatted["extensions"] = extensions
        return formatted
    original = error.original_error
    if original is None or isinstance(original, GraphQLError):
        extensions["code"] = "VALIDATION"
        if field := field_at_fault(error.message):
            extensions["field"] = field
        formatted["extensions"] = extensions
        return formatted
    log.error("request %s failed", request_id, exc_info=(type(original), original, original.__traceback__))
    masked: dict[str, Any] = {
        "message": f"Internal server error (request {request_id})",
        "extensions": {"code": "INTERNAL", "requestId": request_id},
    }
    if "path" in formatted:
        masked["path"] = formatted["path"]
    if "locations" in formatted:
        masked["locations"] = formatted["locations"]
    return masked


class LedgerGraphQL(GraphQL[Context, RootValue]):
    """Strawberry's ASGI app for /graphql (HTTP and WebSocket), with our context, auth and HTTP semantics."""

    services: Services
    graphql_transport_ws_handler_class = LedgerTransportWSHandler
    # Set by create_app when ML_RESPONSE_CACHE is on; None executes every request.
    response_cache: ResponseCache | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope, receive=receive)
        request.state.request_id = uuid.uuid4().hex[:16]
        try:
            # Authentication first, always: a revoked token is refused even for a result already cached.
            request.state.principal = await self.principal(request.headers.get("authorization"))
            if self.response_cache is None:
                response = await self.run(request)
            else:
                response = await self.run_cached(request, self.response_cache)
        except AuthenticationError as e:
            # Credentials were presented and refused: say why, rather than treat the caller as anonymous.
            response = self._error(request, 401, f"not authenticated: {e.reason}", "UNAUTHENTICATED")
        except HTTPException as e:
            # Malformed JSON, a missing query, a wrong method: still a GraphQL error body.
            response = self._error(request, e.status_code, e.reason, "VALIDATION")
        except Exception:
            log.exception("request %s failed outside execution", request.state.request_id)
            response = self._error(request, 503, "Service unavailable", "INTERNAL")
        finally:
            # Execution leaves the request's objects in reference cycles, which only the garbage collector
            # frees; the rows its loaders cached (about 1,000 records for a 50-measure dashboard) are freed now.
            if (context := getattr(request.state, "context", None)) is not None:
                context.forget_reads()
                request.state.context = None
        response.headers["x-request-id"] = request.state.request_id
        await response(scope, receive, send)

    async def run_cached(self, request: Request, cache: ResponseCache) -> Response:
        """Serve a query from the cache while its plans are unchanged; else execute it, and keep the result."""
        lookup = await self._lookup(request, cache)
        if lookup is None:
            uncached: Response = await self.run(request)
            return uncached
        body = cache.get(lookup.key, lookup.validator)
        if body is None and (running := cache.running(lookup.key, lookup.validator)) is not None:
            # The same result at the same state is being executed (dashboards refreshing after a write): wait
            # for it rather than run it again. Shielded: a follower that goes away must not cancel the leader.
            body = await asyncio.shield(running)
        if body is None:
            return await self._execute(request, cache, lookup)
        if matches(request.headers.get("if-none-match"), lookup.etag):
            return self._cacheable(Response(status_code=304), lookup, "hit")
        return self._cacheable(Response(body, media_type=lookup.media_type), lookup, "hit")

    async def _execute(self, request: Request, cache: ResponseCache, lookup: Lookup) -> Response:
        """Execute a cacheable query, keep its result if it has no errors and its plans did not move meanwhile."""
        flight = cache.start(lookup.key, lookup.validator)
        kept: bytes | None = None
        try:
            response: Response = await self.run(request)
            response.headers["x-cache"] = "miss"
            keepable = (
                response.status_code == 200
                and not getattr(request.state, "graphql_errors", True)
                and isinstance(getattr(response, "body", None), bytes | memoryview)  # not a stream
            )
            if not keepable:
                return response
            # Had one of its plans changed while it executed, the result might mix two states: served, not kept.
            if await self._validator(cache, lookup.scope) != lookup.validator:
                return response
            kept = bytes(response.body)
            cache.put(lookup.key, lookup.validator, kept)
        finally:
            cache.finish(lookup.key, lookup.validator, flight, kept)
        if matches(request.headers.get("if-none-match"), lookup.etag):
            return self._cacheable(Response(status_code=304), lookup, "miss")
        return self._cacheable(response, lookup, "miss")

    async def _lookup(self, request: Request, cache: ResponseCache) -> Lookup | None:
        """The cache's view of a request, or None when it is not a query the cache can validate."""
        accept = request.headers.get("accept", "")
        if "multipart/" in accept or "text/event-stream" in accept:
            return None  # incremental delivery and streamed subscriptions: never cached
        found = await graphql_request(request)
        if found is None:
            return None
        query, variables, operation_name = found
        shape = cache.shape(query, operation_name)
        if shape is None:
            return None
        principal = request.state.principal
        scope = shape.scope(variables, principal)
        if scope is None:
            return None
        validator = await self._validator(cache, scope)
        if validator is None:
            return None
        key = cache.key(query, operation_name, variables, principal)
        media_type = GRAPHQL_RESPONSE if wants_graphql_response(request) else JSON
        return Lookup(key, scope, validator, media_type, cache.etag(key, validator, media_type))

    async def _validator(self, cache: ResponseCache, scope: ReadScope) -> str | None:
        try:
            return await cache.validator(self.services.pool, scope)
        except Exception:
            # The cache is an optimisation: if its one query fails, execute as without it (and fail there if the
            # database is really gone, with the usual errors).
            log.warning("response cache: could not read the plans' positions; executing uncached", exc_info=True)
            return None

    def _cacheable(self, response: Response, lookup: Lookup, state: str) -> Response:
        response.headers["etag"] = lookup.etag
        response.headers["cache-control"] = CACHE_CONTROL
        response.headers["vary"] = VARY
        response.headers["x-cache"] = state
        return response

    def _error(self, request: Request, status: int, message: str, code: str) -> Response:
        media = GRAPHQL_RESPONSE if wants_graphql_response(request) else JSON
        body = {"errors": [{"message": message, "extensions": {"code": code}}]}
        return JSONResponse(body, status_code=status, media_type=media)

    def parse_json(self, data: str | bytes) -> Any:
        parsed = super().parse_json(data)
        # Strawberry reads a body's fields with .get(): `null`, a number or a string would fail as an internal
        # error. (A list is a batch, which Strawberry refuses itself.)
        if not isinstance(parsed, dict | list):
            raise HTTPException(400, "the request body must be a JSON object with a `query`")
        if isinstance(parsed, dict) and not isinstance(parsed.get("operationName"), str | None):
            raise HTTPException(400, "The GraphQL operation's `operationName` must be a string or null, if provided.")
        return parsed

    def encode_json(self, data: object) -> str | bytes:
        return encode_message(data)

    async def principal(self, authorization: str | None) -> Principal | None:
        """Who presents these credentials; the public reader if none and public reading is on."""
        services = self.services
        return await principal_for(
            services.pool,
            services.verifier,
            bearer_from_header(authorization),
            public_read=services.settings.public_read,
        )

    async def get_context(self, request: Any, response: Any) -> Any:
        if isinstance(request, Request):
            context = LedgerContext(self.services, request.state.principal, request, response)
            request.state.context = context
            return context
        # A WebSocket: credentials come in connection_init (on_ws_connect), or in the handshake's header.
        # Never the public reader: on_ws_connect refuses connections without a principal, even in public mode.
        try:
            bearer = bearer_from_header(request.headers.get("authorization"))
            principal = await authenticate(self.services.pool, self.services.verifier, bearer)
        except AuthenticationError:
            principal = None
        return LedgerContext(self.services, principal, request, response)

    async def on_ws_connect(self, context: Any) -> Any:
        bearer = bearer_from_params(getattr(context, "connection_params", None))
        if bearer:
            try:
                context.principal = await authenticate(self.services.pool, self.services.verifier, bearer)
            except AuthenticationError as e:
                raise ConnectionRejectionError(
                    {"message": e.reason, "extensions": {"code": "UNAUTHENTICATED"}}
                ) from None
        # Subscriptions are for integrations: no anonymous connections (closed with 4403).
        # A non-browser client may instead have sent the token in the handshake's Authorization header.
        if getattr(context, "principal", None) is None:
            raise ConnectionRejectionError({"message": "a token is required"})
        return None

    async def process_result(self, request: Any, result: ExecutionResult) -> Any:
        data: dict[str, Any] = await super().process_result(request, result)
        request_id = getattr(request.state, "request_id", "-") if hasattr(request, "state") else "-"
        if isinstance(request, Request):
            # Only results without any error are kept by the response cache.
            request.state.graphql_errors = bool(result.errors)
        if result.errors:
            data["errors"] = [coded(e, f, request_id) for e, f in zip(result.errors, data["errors"], strict=True)]
            # An error with no path never reached execution: a request error.
            if result.data is None and all(not e.path for e in result.errors) and hasattr(request, "state"):
                request.state.request_error = True
                data.pop("data", None)
        return data

    async def run(self, request: Any, context: Any = None, root_value: Any = None) -> Any:  # type: ignore[override]
        from strawberry.types.unset import UNSET

        response = await super().run(
            request, UNSET if context is None else context, UNSET if root_value is None else root_value
        )
        if isinstance(request, Request) and isinstance(response, Response):
            if response.media_type == JSON and wants_graphql_response(request):
                response.headers["content-type"] = GRAPHQL_RESPONSE
                if getattr(request.state, "request_error", False):
                    response.status_code = 400
        return response
