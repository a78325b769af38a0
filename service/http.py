"""GraphQL over HTTP: media types and status codes as the GraphQL-over-HTTP specification gives them.

Clients that accept `application/graphql-response+json` get it, with 400 for
a request that never reached execution; everyone else gets `application/json`
and 200. Every error carries `extensions.code`; unexpected ones are masked.

With the response cache on (service/response_cache.py), a query's result
carries an ETag, is served again until its plans change, and `If-None-Match`
is answered with 304, on GET and on POST alike (service/cached_responses.py).
A request naming a persisted query's hash runs the document kept under it
(service/persisted_queries.py). A mutation sent by GET is a 405 naming POST.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import Any

import asyncpg
from cross_web import HTTPException, StarletteRequestAdapter
from graphql import ExecutionResult, GraphQLError
from starlette.datastructures import Headers, State
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLRequestData
from strawberry.http.typevars import Context, RootValue
from strawberry.schema.exceptions import InvalidOperationTypeError

from service import logs, metrics
from service.auth.authenticate import authenticate, bearer_from_header, bearer_from_params, principal_for
from service.auth.errors import AuthenticationError
from service.auth.principal import Principal
from service.cached_responses import GRAPHQL_RESPONSE, JSON, CachedResponses, wants_graphql_response
from service.front_door import FrontDoor
from service.graphql_request import UnreadableJSON, decode_json, read_request
from service.limits import LimitConfig
from service.logs import request_id
from service.operation_kind import reads_only
from service.persisted_queries import PersistedQueries, PersistedQueryError, requested_hash
from service.read_pool import Lease
from service.replicas import MinPositionError, min_position
from service.schema.context import Context as LedgerContext
from service.schema.context import Services
from service.ws import LedgerTransportWSHandler, encode_message

log = logging.getLogger(__name__)

# Whether a request only reads is found by parsing its document, within the service's own token limit.
MAX_TOKENS = LimitConfig().max_tokens


def media_type(request: Request) -> str:
    return GRAPHQL_RESPONSE if wants_graphql_response(request) else JSON


class _Headers(Headers):
    """Starlette's Headers, whose `get` reads a dict of each name's first value, made once: a request's handful
    of lookups (token, media types, encodings, validators, position) then scan nothing, and a header the client
    did not send raises no KeyError on the way."""

    def __init__(self, scope: Scope) -> None:
        super().__init__(scope=scope)
        self._first = dict(reversed(self._list))

    def get(self, key: str, default: Any = None) -> Any:
        value = self._first.get(key.lower().encode("latin-1"))
        return default if value is None else value.decode("latin-1")


class _Request(Request):
    """The view's Starlette Request, its headers read as `_Headers` does."""

    @property
    def headers(self) -> Headers:
        if self._looked_up is None:
            self._looked_up = _Headers(self.scope)
        return self._looked_up

    _looked_up: _Headers | None = None


class LedgerRequestAdapter(StarletteRequestAdapter):
    """Strawberry's view of a Starlette request, with the request itself, where our parameters wait."""

    @property
    def request(self) -> Request:
        return self._request


def coded(error: GraphQLError, formatted: dict[str, Any], request_id: str, wrote: bool = False) -> dict[str, Any]:
    """Give an error its code; hide the details of one nobody expected.

    With `wrote` (the ledger recorded a write of this request), an unexpected error inside a mutation's payload
    is COMMITTED, never INTERNAL: the write stands, only reading its result failed (schema/after_write.py).
    """
    extensions = dict(formatted.get("extensions") or {})
    if "code" in extensions:
        formatted["extensions"] = extensions
        return formatted
    original = error.original_error
    if original is None or isinstance(original, GraphQLError):
        # A request error graphql-core made (input values have been given their field: schema/input_errors.py).
        extensions["code"] = "VALIDATION"
        formatted["extensions"] = extensions
        return formatted
    log.error("request %s failed", request_id, exc_info=(type(original), original, original.__traceback__))
    masked: dict[str, Any] = {
        "message": f"Internal server error (request {request_id})",
        "extensions": {"code": "INTERNAL", "requestId": request_id},
    }
    if wrote and error.path is not None and len(error.path) > 1:
        masked["message"] = (
            f"the write is recorded (see the payload's position), but part of its result could not be read "
            f"(request {request_id}): read it again, and do not send the write again"
        )
        masked["extensions"]["code"] = "COMMITTED"
    if "path" in formatted:
        masked["path"] = formatted["path"]
    if "locations" in formatted:
        masked["locations"] = formatted["locations"]
    return masked


class LedgerGraphQL(GraphQL[Context, RootValue]):
    """Strawberry's ASGI app for /graphql (HTTP and WebSocket), with our context, auth and HTTP semantics."""

    services: Services
    graphql_transport_ws_handler_class = LedgerTransportWSHandler
    request_adapter_class = LedgerRequestAdapter
    # Set by create_app when ML_RESPONSE_CACHE is on; None executes every request.
    cached_responses: CachedResponses | None = None
    persisted_queries: PersistedQueries
    front_door: FrontDoor

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        started = time.perf_counter()
        request = _Request(scope, receive=receive)
        state = request.state
        # Given by the RequestIds middleware (service/logs.py), where the app has it; it answers with it too.
        given = getattr(state, "request_id", None)
        state.request_id = given or request_id(request.headers.get("x-request-id"))
        # What the getattr(request.state, name, default) reads below find when nothing set them: set here, since
        # Starlette's State raises and catches an exception for every name it does not hold.
        state.outcome, state.replica_failed, state.request_error, state.context = "ok", False, False, None
        # The token's read and a cached result's validator take one connection of the primary's pool between them.
        state.lease = lease = Lease(self.services.pool)
        try:
            # Authentication first, always: a revoked token is refused even for a result already cached.
            state.principal = principal = await self.principal(request.headers.get("authorization"), lease)
            logs.note(principal=principal.name if principal else None)
            response = await self._answer(request)
        except AuthenticationError as e:
            # Credentials were presented and refused: say why, rather than treat the caller as anonymous.
            response = self._error(request, 401, f"not authenticated: {e.reason}", "UNAUTHENTICATED")
        except PersistedQueryError as e:
            state.outcome = e.code
            response = JSONResponse(e.body(), status_code=e.status, media_type=media_type(request))
        except MinPositionError as e:
            response = self._error(request, 400, str(e), "VALIDATION", e.field)
        except HTTPException as e:
            response = self._refusal(request, e)
        except Exception:
            log.exception("request %s failed outside execution", state.request_id)
            response = self._error(request, 503, "Service unavailable", "INTERNAL")
        finally:
            await lease.release()
            # Execution leaves the request's objects in reference cycles, which only the garbage collector
            # frees; the rows its loaders cached (about 1,000 records for a 50-measure dashboard) are freed now.
            if (context := state.context) is not None:
                context.forget_reads()
                state.context = None
        if not given:
            response.headers["x-request-id"] = state.request_id
        self._answered(state, response, time.perf_counter() - started)
        await response(scope, receive, send)

    @staticmethod
    def _answered(state: State, response: Response, seconds: float) -> None:
        """Count the request by its operation and outcome (service/metrics.py), for its log line too."""
        operation = getattr(state, "operation", None) or metrics.operation_label(None, None)
        outcome = state.outcome
        logs.note(outcome=outcome)
        metrics.graphql_answered(operation, outcome, seconds, response.headers.get("x-cache"))

    async def _answer(self, request: Request) -> Response:
        """Read the request once, resolve a persisted query, then serve it from the cache or execute it."""
        params = await read_request(request)
        keep_as: str | None = None
        if params is not None and (digest := requested_hash(params.extensions)) is not None:
            resolved = self.persisted_queries.resolve(digest, params.query)
            params, keep_as = replace(params, query=resolved.query), resolved.keep_as
        # Strawberry reads these again through parse_http_body, rather than the body.
        state = request.state
        state.graphql_params = params
        state.operation = operation = metrics.operation_label(params.operation_name, params.query) if params else None
        logs.note(operation=operation)
        state.reads = await self._reads(request, params)
        response = await self._serve(request, params)
        if state.replica_failed:
            # The standby went away under this query (service/replicas.py): answered whole from the primary.
            state.reads, state.replica_failed = self.services.pool, False
            response = await self._serve(request, params)
        if keep_as is not None and params is not None and params.query is not None:
            # Kept only once it has passed parsing, validation and the limits, as Apollo Server does.
            if response.status_code < 400 and not state.request_error:
                self.persisted_queries.keep(keep_as, params.query)
        return response

    async def _serve(self, request: Request, params: GraphQLRequestData | None) -> Response:
        """The answer from the response cache, or executed."""

        async def execute() -> Response:
            await request.state.lease.release()  # before execution takes connections of its own
            executed: Response = await self.run(request)
            return executed

        if params is None or self.cached_responses is None:
            return await execute()
        return await self.cached_responses.serve(request, params, execute)

    async def _reads(self, request: Request, params: GraphQLRequestData | None) -> asyncpg.Pool:
        """The pool a request reads: for a query, a standby that has reached its X-Min-Position; else the primary."""
        services = self.services
        at_least = min_position(request.headers)
        if not services.replicas.replicas or params is None or params.query is None:
            return services.pool
        if not reads_only(params.query, params.operation_name, MAX_TOKENS):
            return services.pool
        await request.state.lease.release()  # not held while a standby is waited for
        return await services.replicas.reader(at_least)

    async def parse_http_body(self, request_adapter: Any) -> GraphQLRequestData | list[GraphQLRequestData]:
        request = getattr(request_adapter, "request", None)
        params = getattr(request.state, "graphql_params", None) if isinstance(request, Request) else None
        if params is not None:
            return params
        parsed: GraphQLRequestData | list[GraphQLRequestData] = await super().parse_http_body(request_adapter)
        return parsed

    def _refusal(self, request: Request, e: HTTPException) -> Response:
        """Malformed JSON, a missing query, a wrong method: still a GraphQL error body."""
        if request.method == "GET" and isinstance(e.__cause__, InvalidOperationTypeError):
            # GraphQL over HTTP: an operation GET may not carry (a mutation) is 405, naming the method that may.
            response = self._error(request, 405, f"{e.reason}; send them with POST", "VALIDATION")
            response.headers["allow"] = "POST"
            return response
        return self._error(request, e.status_code, e.reason, "VALIDATION")

    def _error(self, request: Request, status: int, message: str, code: str, field: str | None = None) -> Response:
        request.state.outcome = code
        extensions = {"code": code} if field is None else {"code": code, "field": field}
        body = {"errors": [{"message": message, "extensions": extensions}]}
        return JSONResponse(body, status_code=status, media_type=media_type(request))

    def decode_json(self, data: str | bytes) -> object:
        # Over WebSocket too: a message nested too deep closes the socket as malformed (service/ws.py).
        return decode_json(data)

    def parse_json(self, data: str | bytes) -> Any:
        try:
            parsed = super().parse_json(data)
        except UnreadableJSON as e:
            raise HTTPException(400, str(e)) from None
        # Strawberry reads a body's fields with .get(): `null`, a number or a string would fail as an internal
        # error. (A list is a batch, which Strawberry refuses itself.)
        if not isinstance(parsed, dict | list):
            raise HTTPException(400, "the request body must be a JSON object with a `query`")
        if isinstance(parsed, dict) and not isinstance(parsed.get("operationName"), str | None):
            raise HTTPException(400, "The GraphQL operation's `operationName` must be a string or null, if provided.")
        return parsed

    async def render_graphql_ide(self, request: Request) -> Response:
        # Strawberry's own page loads GraphiQL from a CDN; ours is served by the service (service/front_door/).
        return self.front_door.graphiql()

    def encode_json(self, data: object) -> str | bytes:
        return encode_message(data)

    async def principal(self, authorization: str | None, reads: Lease | None = None) -> Principal | None:
        """Who presents these credentials; the public reader if none and public reading is on."""
        services = self.services
        return await principal_for(
            reads or services.pool,
            services.verifier,
            bearer_from_header(authorization),
            public_read=services.settings.public_read,
        )

    async def get_context(self, request: Any, response: Any) -> Any:
        if isinstance(request, Request):
            reader = getattr(request.state, "reads", None)
            context = LedgerContext(self.services, request.state.principal, request, response, reader=reader)
            request.state.context = context
            return context
        # A WebSocket: credentials come in connection_init (on_ws_connect), or in the handshake's header.
        # Never the public reader: on_ws_connect refuses connections without a principal, even in public mode.
        principal = await self.handshake_principal(request.headers.get("authorization"))
        return LedgerContext(self.services, principal, request, response)

    async def on_ws_connect(self, context: Any) -> Any:
        context.principal = await self.connecting(
            getattr(context, "connection_params", None), getattr(context, "principal", None)
        )
        return None

    async def connecting(self, params: object, from_handshake: Principal | None) -> Principal:
        """Who opens a WebSocket: the token of its connection_init payload, else that of the handshake's
        Authorization header (`from_handshake`); ConnectionRejectionError (closed with 4403) if neither."""
        bearer = bearer_from_params(params)
        principal = from_handshake
        if bearer:
            try:
                principal = await authenticate(self.services.pool, self.services.verifier, bearer)
            except AuthenticationError as e:
                raise ConnectionRejectionError(
                    {"message": e.reason, "extensions": {"code": "UNAUTHENTICATED"}}
                ) from None
        # Subscriptions are for integrations: no anonymous connections (closed with 4403).
        # A non-browser client may instead have sent the token in the handshake's Authorization header.
        if principal is None:
            raise ConnectionRejectionError({"message": "a token is required"})
        return principal

    async def handshake_principal(self, authorization: str | None) -> Principal | None:
        """The principal of a WebSocket handshake's Authorization header; None if absent or refused."""
        try:
            return await authenticate(self.services.pool, self.services.verifier, bearer_from_header(authorization))
        except AuthenticationError:
            return None

    async def process_result(self, request: Any, result: ExecutionResult) -> Any:
        data: dict[str, Any] = await super().process_result(request, result)
        request_id = getattr(request.state, "request_id", "-") if hasattr(request, "state") else "-"
        if isinstance(request, Request):
            # Only results without any error are kept by the response cache.
            request.state.graphql_errors = bool(result.errors)
            reads = getattr(request.state, "reads", None)
            if reads is not None and any(
                self.services.replicas.failed(reads, e.original_error) for e in result.errors or ()
            ):
                request.state.replica_failed = True
        if result.errors:
            context = getattr(request.state, "context", None) if hasattr(request, "state") else None
            wrote = bool(getattr(context, "wrote", False))
            data["errors"] = [
                coded(e, f, request_id, wrote) for e, f in zip(result.errors, data["errors"], strict=True)
            ]
            if hasattr(request, "state"):
                request.state.outcome = data["errors"][0]["extensions"]["code"]
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
