"""Serving query results from the response cache: ETags, 304s and content coding (service/response_cache.py).

A cached result has two representations, its JSON bytes and their gzip encoding, each with a strong ETag of
its own (RFC 9110 §8.8.3: a strong validator names one sequence of bytes). The gzip bytes are made once, the
first time a client accepting gzip asks, and kept in the entry: a hit is never compressed again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import asyncpg
from starlette.requests import Request
from starlette.responses import Response
from strawberry.http import GraphQLRequestData

from service.compression import GZIP, accepts_gzip, worth_compressing
from service.response_cache import Entry, ResponseCache, matches
from service.response_cache import Scope as ReadScope

log = logging.getLogger(__name__)

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"

# Sent with every cacheable answer. `private`: a result is for its caller's eyes only, so no shared cache may
# keep it; `no-cache`: a client may keep it but must revalidate (If-None-Match) before using it again.
# Vary: the result depends on who asks (Authorization), its media type on Accept, its bytes on Accept-Encoding.
CACHE_CONTROL = "private, no-cache"
VARY = "Authorization, Accept, Accept-Encoding"
# The same for every answer: encoded once.
_CACHE_HEADERS = [(b"cache-control", CACHE_CONTROL.encode()), (b"vary", VARY.encode())]


def wants_graphql_response(request: Request) -> bool:
    return GRAPHQL_RESPONSE in request.headers.get("accept", "")


@dataclass(frozen=True)
class Lookup:
    """A cacheable request: its key, the state of what it reads, and the media type it asks for."""

    key: bytes
    scope: ReadScope
    validator: str
    media_type: str


class CachedResponses:
    """The cache's side of the GraphQL view: serve a result while its plans are unchanged, else execute it."""

    def __init__(
        self,
        cache: ResponseCache,
        pool: Callable[[Request], asyncpg.Pool],
        read: Callable[[Request], Awaitable[None]] | None = None,
    ) -> None:
        # `pool(request)`: where the request reads, a standby or the primary; the plans' positions are read
        # there too, so a result is matched only against the state it was read at (service/replicas.py).
        # `read(request)`: called once they are, before waiting for another request's execution or executing.
        self.cache, self._pool, self._read = cache, pool, read

    async def serve(
        self, request: Request, params: GraphQLRequestData, execute: Callable[[], Awaitable[Response]]
    ) -> Response:
        cache = self.cache
        lookup = await self._lookup(request, params)
        if self._read is not None:
            await self._read(request)
        if lookup is None:
            return await execute()
        entry = cache.get(lookup.key, lookup.validator)
        if entry is None and (running := cache.running(lookup.key, lookup.validator)) is not None:
            # The same result at the same state is being executed (dashboards refreshing after a write): wait
            # for it rather than run it again. Shielded: a follower that goes away must not cancel the leader.
            entry = await asyncio.shield(running)
        if entry is None:
            return await self._execute(request, lookup, execute)
        return await self._answer(request, lookup, entry, "hit")

    async def _execute(self, request: Request, lookup: Lookup, execute: Callable[[], Awaitable[Response]]) -> Response:
        """Execute a cacheable query, keep its result if it has no errors and its plans did not move meanwhile."""
        cache = self.cache
        flight = cache.start(lookup.key, lookup.validator)
        kept: Entry | None = None
        try:
            response = await execute()
            response.headers["x-cache"] = "miss"
            keepable = (
                response.status_code == 200
                and not getattr(request.state, "graphql_errors", True)
                and isinstance(getattr(response, "body", None), bytes | memoryview)  # not a stream
            )
            if not keepable:
                return response
            # Had one of its plans changed while it executed, the result might mix two states: served, not kept.
            if await self.validator(request, lookup.scope) != lookup.validator:
                return response
            kept = cache.put(lookup.key, lookup.validator, bytes(response.body))
        finally:
            cache.finish(lookup.key, lookup.validator, flight, kept)
        return await self._answer(request, lookup, kept, "miss")

    async def _answer(self, request: Request, lookup: Lookup, entry: Entry, state: str) -> Response:
        """The representation the client accepts, or 304 if it holds one that is still current."""
        headers = request.headers
        gzip = accepts_gzip(headers.get("accept-encoding")) and worth_compressing(entry.body)
        # A client may hold either representation (it accepted gzip before, or not): a 304 names the one it
        # holds, which it then uses (RFC 9111 §4.3.4).
        # Each ETag is made only when it is sent or compared.
        etag = self.cache.etag(lookup.key, lookup.validator, lookup.media_type, GZIP if gzip else None)
        if held := headers.get("if-none-match"):
            for candidate in (
                (etag, self.cache.etag(lookup.key, lookup.validator, lookup.media_type)) if gzip else (etag,)
            ):
                if matches(held, candidate):
                    return self._headed(Response(status_code=304), candidate, state)
        if not gzip:
            return self._headed(Response(entry.body, media_type=lookup.media_type), etag, state)
        body = entry.gzipped or await self.cache.gzipped(lookup.key, entry)
        response = Response(body, media_type=lookup.media_type, headers={"content-encoding": GZIP})
        return self._headed(response, etag, state)

    async def _lookup(self, request: Request, params: GraphQLRequestData) -> Lookup | None:
        """The cache's view of a request, or None when it is not a query the cache can validate."""
        # A request's extensions are left out of the key: they are metadata (a persisted query's hash, Apollo
        # Client's `clientLibrary`) that nothing in the schema reads. Whoever makes execution read them must key
        # on them too.
        if params.query is None:
            return None
        cache = self.cache
        shape = cache.shape(params.query, params.operation_name)
        if shape is None:
            return None
        principal = request.state.principal
        variables = params.variables or {}
        scope = shape.scope(variables, principal)
        if scope is None:
            return None
        validator = await self.validator(request, scope)
        if validator is None:
            return None
        key = cache.key(params.query, params.operation_name, variables, principal)
        media_type = GRAPHQL_RESPONSE if wants_graphql_response(request) else JSON
        return Lookup(key, scope, validator, media_type)

    async def validator(self, request: Request, scope: ReadScope) -> str | None:
        try:
            return await self.cache.validator(self._pool(request), scope)
        except Exception:
            # The cache is an optimisation: if its one query fails, execute as without it (and fail there if the
            # database is really gone, with the usual errors).
            log.warning("response cache: could not read the plans' positions; executing uncached", exc_info=True)
            return None

    @staticmethod
    def _headed(response: Response, etag: str, state: str) -> Response:
        # A response made here holds none of these yet: added to its list as MutableHeaders would add them.
        response.raw_headers += [(b"etag", etag.encode("latin-1")), *_CACHE_HEADERS, (b"x-cache", state.encode())]
        return response
