"""`create_app()`: the Starlette application, its routes and its lifespan."""

from __future__ import annotations

import asyncio
import importlib.metadata
import logging
import threading
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, cast

import asyncpg
from eventsourcing.postgres import PostgresApplicationRecorder
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from domain.ledger import Ledger
from projections import read_model_tables, runtime
from projections.ledger_store.chain import open_chain
from projections.ledger_store.event_store import open_ledger
from projections.runner import run_projection
from projections.view import open_view
from service import compression, cors, metrics, metrics_endpoint, metrics_sampler, read_model, speedups, tracing
from service.auth import report_links, tokens
from service.auth.jwt import JwtVerifier
from service.cached_responses import CachedResponses
from service.downloads import audit_download, plan_download
from service.front_door import FrontDoor
from service.http import LedgerGraphQL
from service.limits import BodySizeLimit, LimitConfig, RateLimiter
from service.persisted_queries import PersistedQueries
from service.pools import asyncpg_args, keep_session
from service.positions import PositionWatcher
from service.read_pool import open_read_pool
from service.replicas import Replicas
from service.report import routes as report_routes
from service.request_ids import RequestIds
from service.response_cache import ResponseCache, build_id
from service.schema import build_schema
from service.schema.context import Services
from service.schema.subscriptions.feeds import open_feeds
from service.settings import Settings, eventsourcing_env
from service.speedups.live_delivery import LeanSubscriptions
from service.startup import create_tables
from service.webhooks import tables as webhook_tables
from service.webhooks.dispatcher import run_dispatcher
from service.ws import LedgerTransportWSHandler

log = logging.getLogger(__name__)


def release() -> str:
    """This code's version: part of every ETag, with the schema and the read model's version."""
    try:
        return importlib.metadata.version("measure-ledger")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


async def internal_error(request: Request, exc: Exception) -> Response:
    """An unexpected failure outside /graphql (which masks its own): INTERNAL with a request id, no detail."""
    # Given by the RequestIds middleware, which this handler runs outside of (Starlette's ServerErrorMiddleware).
    request_id = getattr(request.state, "request_id", None) or uuid.uuid4().hex[:16]
    log.error("request %s to %s failed", request_id, request.url.path, exc_info=exc)
    extensions = {"code": "INTERNAL", "requestId": request_id}
    body = {"errors": [{"message": f"Internal server error (request {request_id})", "extensions": extensions}]}
    return JSONResponse(body, status_code=500, headers={"x-request-id": request_id})


def create_app(settings: Settings | None = None) -> Starlette:
    """The whole service; DATABASE_URL (or `settings.database_url`) names its database."""
    settings = settings or Settings.from_env()
    if not settings.database_url:
        raise RuntimeError("DATABASE_URL is not set; `measure-ledger serve` starts an embedded PostgreSQL")
    database_url = settings.database_url
    # Refused at once, saying why, when the switch is on and OpenTelemetry is not installed.
    traced = (tracing.operation_spans(),) if settings.opentelemetry else ()
    schema = build_schema(introspection=settings.introspection, tracing=traced)
    if settings.speedups:
        speedups.install(schema)
    graphql = LedgerGraphQL(
        schema,
        graphql_ide="graphiql" if settings.graphiql else None,
        subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
        allowed_origins=settings.allowed_origins,
        max_subscriptions_per_connection=settings.max_subscriptions_per_connection,
    )
    if settings.response_cache:
        cache = ResponseCache(
            max_bytes=settings.response_cache_bytes,
            build=build_id([release(), str(read_model_tables.VERSION), graphql.schema.as_str()]),
            max_tokens=LimitConfig().max_tokens,
        )

        def validates(request: Request) -> Any:
            """Where a request's plans' positions are read: where it reads, through its lease on the primary."""
            reads = getattr(request.state, "reads", None) or graphql.services.pool
            lease = getattr(request.state, "lease", None)
            return lease if lease is not None and lease.pool is reads else reads

        async def validated(request: Request) -> None:
            # The lease is not held while the request waits for another's execution (which may need its
            # connection) or executes.
            if (lease := getattr(request.state, "lease", None)) is not None:
                await lease.release()

        graphql.cached_responses = CachedResponses(cache, validates, validated)
    graphql.persisted_queries = PersistedQueries(settings.persisted_queries_bytes)
    sampler = metrics_sampler.Sampler(cache=graphql.cached_responses.cache if graphql.cached_responses else None)
    front_door = graphql.front_door = FrontDoor(settings, graphql.schema.as_str)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        env = eventsourcing_env(database_url)

        def open_stores() -> Ledger:
            ledger = open_ledger(env)  # creates the event store's tables if missing, append-only
            try:
                open_view(env).datastore.close()  # and the read model's
                open_chain(env).datastore.close()  # and the hash chain's
            except BaseException:
                ledger.close()
                raise
            return ledger

        # Processes starting together would race on DDL: serialised, and retried (service/startup.py).
        ledger = create_tables(database_url, open_stores, ddl=[tokens.DDL, webhook_tables.DDL, report_links.DDL])
        connect_args = asyncpg_args(database_url)
        # Reads that meet a connection lost to a database restart are tried once more (service/read_pool.py).
        pool = await open_read_pool(connect_args, min_size=1, max_size=settings.pool_size, reset=keep_session)
        await tokens.ensure_table(pool)
        watcher = PositionWatcher(
            connect=lambda: asyncpg.connect(**connect_args),
            read_position=lambda: read_model.projected_position(pool, ledger.name),
        )
        # Subscriptions' readers: poked by the watcher, they catch up from the table after a reconnect too.
        feeds = open_feeds(pool, settings.subscription_buffer)
        await feeds.start()
        watcher.subscribe(feeds.poke)
        await watcher.start()

        def open_replica(url: str) -> Any:
            # No connection until the first check: a standby that is down at start-up stays out of rotation.
            return asyncpg.create_pool(
                **asyncpg_args(url), min_size=0, max_size=settings.pool_size, reset=keep_session, timeout=3
            )

        def open_replica_ledger(url: str) -> Ledger:
            # Read only: a standby refuses DDL, and the primary made the tables. Connects at first use.
            return Ledger(env={**eventsourcing_env(url), "CREATE_TABLE": "n"})

        replicas = await Replicas.open(
            pool,
            settings.read_database_urls,
            open_replica,
            open_replica_ledger,
            ledger.name,
            lambda: watcher.position,
            max_lag_seconds=settings.read_max_lag_seconds,
            wait_seconds=settings.read_wait_seconds,
            check_seconds=settings.read_check_seconds,
        )
        watcher.subscribe(replicas.primary_moved)
        await replicas.start()
        stop = threading.Event()
        projector: threading.Thread | None = None
        if settings.run_projection:
            projector = threading.Thread(
                target=run_projection,
                args=(env, stop),
                kwargs={"stall_seconds": settings.leader_stall_seconds},
                name="projection",
                daemon=True,
            )
            projector.start()
        # Webhook deliveries: on standby beside `serve`'s deliver process, leading if it goes (dispatcher.py).
        dispatcher = asyncio.Event()
        deliveries = (
            asyncio.create_task(
                run_dispatcher(connect_args, settings.webhooks, dispatcher, sessions=pool), name="webhooks"
            )
            if settings.webhooks.run
            else None
        )
        graphql.services = Services(
            settings=settings,
            pool=pool,
            ledger=ledger,
            watcher=watcher,
            feeds=feeds,
            replicas=replicas,
            verifier=JwtVerifier(settings.jwt) if settings.jwt else None,
            rate_limiter=RateLimiter(settings.mutation_rate, settings.mutation_burst),
            report_links=await report_links.signer(pool),
        )
        runtime.tune_service(settings.gc_thresholds)
        sampler.services = graphql.services
        sampler.websockets = LedgerTransportWSHandler.connections
        sampler.dispatcher_lock = webhook_tables.LOCK_KEY
        sampled = asyncio.Event()
        # With `serve`'s processes sharing their metrics, a scrape of another process reads this one's samples.
        sampling = asyncio.create_task(sampler.sample_forever(sampled)) if metrics.multiprocess_mode() else None
        try:
            yield
        finally:
            stop.set()
            dispatcher.set()
            sampled.set()
            if sampling is not None:
                await sampling
            metrics.process_ended()
            if deliveries is not None:
                await deliveries
            if projector is not None:
                await asyncio.to_thread(projector.join, 10)
            await watcher.stop()
            await replicas.stop()
            await feeds.stop()
            await pool.close()
            ledger.close()

    async def export(request: Request) -> Response:
        return await plan_download(graphql.services, request)

    async def audit_export(request: Request) -> Response:
        return await audit_download(graphql.services, request)

    async def report(request: Request) -> Response:
        return await report_routes.report(graphql.services, request)

    async def report_history(request: Request) -> Response:
        return await report_routes.history(graphql.services, request)

    async def health(request: Request) -> JSONResponse:
        ledger = graphql.services.ledger
        events_table = cast(PostgresApplicationRecorder, ledger.recorder).events_table_name
        position, recorded, led = await read_model.positions(graphql.services.pool, ledger.name, events_table)
        subscribers = graphql.services.feeds.subscribers()
        body: dict[str, Any] = {
            "status": "ok",
            # How far the read model has projected, and how many recorded events it has yet to: with
            # the projection in a process of its own, a growing `behind` is how a stuck one shows.
            "position": position,
            "behind": max(0, recorded - position),
            "projectionLed": led,
            "subscribers": subscribers,
        }
        if graphql.cached_responses is not None:
            body["responseCache"] = graphql.cached_responses.cache.stats()
        body["persistedQueries"] = graphql.persisted_queries.stats()
        if graphql.services.replicas.replicas:
            # Each standby: in rotation or not, its read model's position, how far and how long behind.
            body["replicas"] = graphql.services.replicas.health()
            # Reads given a position no standby reached in time, served by the primary instead.
            body["replicaFallbacks"] = graphql.services.replicas.fallbacks
        return JSONResponse(body)

    async def scrape(request: Request) -> Response:
        return await metrics_endpoint.endpoint(request, graphql.services, sampler)

    return Starlette(
        routes=[
            *([Route("/metrics", scrape)] if settings.metrics else []),
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            Route("/plans/{plan_id}/export", export),
            Route("/audit/export", audit_export),
            Route("/health", health),
            Route("/reports/{plan_id}", report),
            Route("/reports/{plan_id}/measures/{measure_id}/history", report_history),
            *front_door.routes(),
        ],
        lifespan=lifespan,
        exception_handlers={Exception: internal_error},
        middleware=[
            # Outside the others, so that a subscriber's socket is not held inside their frames (speedups/).
            *(
                [Middleware(LeanSubscriptions, graphql=graphql)]
                if settings.speedups and not settings.opentelemetry
                else []
            ),
            Middleware(RequestIds, trace=settings.opentelemetry),
            Middleware(BodySizeLimit, max_bytes=settings.max_body_bytes),
            *([cors.middleware(settings.allowed_origins)] if settings.allowed_origins else []),
            compression.middleware(),
        ],
    )
