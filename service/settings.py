"""Settings read from the environment, and the database settings they imply.

The only module that reads the environment for settings: the README's
configuration table lists every variable, and each has its field here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg.conninfo

from projections.runtime import GC_THRESHOLDS, parse_thresholds
from projections.stall import DEFAULT_STALL_SECONDS
from service.webhooks.safety import AllowedHosts
from service.webhooks.settings import WebhookSettings

if TYPE_CHECKING:
    from service.auth.jwt import JwtSettings

DEFAULT_DATA_DIR = Path(".measure-ledger")


@dataclass(frozen=True)
class Settings:
    """What the service is configured with; see the README's table."""

    database_url: str | None = None
    data_dir: Path = DEFAULT_DATA_DIR
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    run_projection: bool = True
    load_demo: bool = True
    graphiql: bool = True
    # Browser origins allowed to call the API (CORS) and to open its WebSocket.
    allowed_origins: tuple[str, ...] = ()
    write_wait_seconds: float = 10.0
    # A leader that projects nothing this long while events wait is replaced (projections/stall.py).
    leader_stall_seconds: float = DEFAULT_STALL_SECONDS
    pool_size: int = 10
    subscription_buffer: int = 1000
    max_subscriptions_per_connection: int = 20
    public_read: bool = False
    introspection: bool = True
    max_body_bytes: int = 1 << 20
    # A client's request headers must arrive whole within this (service/header_deadline.py).
    header_timeout_seconds: float = 10.0
    mutation_rate: float = 20.0
    mutation_burst: int = 60
    # On: it is exact (service/response_cache.py). A miss costs two round trips more (the plans' positions
    # before and after executing); a hit saves the whole execution, and dashboards repeat their reads.
    response_cache: bool = True
    response_cache_bytes: int = 64 << 20
    # Automatic persisted queries (service/persisted_queries.py): documents kept per process; 0 turns them off.
    persisted_queries_bytes: int = 8 << 20
    # The execution speed-ups (service/speedups/); off, the plain schema answers alike, more slowly.
    speedups: bool = True
    # /metrics on the API port, for tokens with the admin role (service/metrics.py).
    metrics: bool = True
    # A port of its own for the metrics, without a token (`serve` only); None: none.
    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"
    # prometheus-client's multiprocess folder, shared by `serve`'s processes (it makes one when unset).
    metrics_dir: str | None = None
    # The collector's thresholds in a serving process (projections/runtime.py).
    gc_thresholds: tuple[int, int, int] = GC_THRESHOLDS
    # Who CLI commands act as, when --token is not given.
    token: str | None = None
    # Where `serve` runs the projection: in a process of its own, or in the web process.
    projector: str = "process"
    # Signed-in users' JWTs (service/auth/jwt.py); None: tokens only.
    jwt: JwtSettings | None = None
    webhooks: WebhookSettings = field(default_factory=WebhookSettings)
    # Hot standbys that queries, exports and the response cache's check read from (service/replicas.py).
    read_database_urls: tuple[str, ...] = ()
    # A standby further behind the primary than this is taken out of rotation until it catches up.
    read_max_lag_seconds: float = 5.0
    # How long a read given a position waits for a standby to replay it before reading the primary.
    read_wait_seconds: float = 1.0
    # How often each standby's position is read when nobody is waiting for it (its lag on /health).
    read_check_seconds: float = 1.0
    # Log lines as readable text, or one JSON object per line (service/logs.py).
    log_format: str = "text"
    # OpenTelemetry spans for GraphQL operations (service/tracing.py); needs the opentelemetry extra.
    opentelemetry: bool = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        origins = tuple(o.strip() for o in env.get("ML_ALLOWED_ORIGINS", "").split(",") if o.strip())
        # Production mode turns off what helps a developer and helps an attacker too.
        production = _flag(env, "ML_PRODUCTION", False)
        return cls(
            database_url=env.get("DATABASE_URL") or None,
            data_dir=Path(env.get("ML_DATA_DIR", str(DEFAULT_DATA_DIR))),
            host=env.get("ML_HOST", "127.0.0.1"),
            port=int(env.get("ML_PORT", "8000")),
            workers=int(env.get("ML_WORKERS", "1")),
            run_projection=env.get("ML_RUN_PROJECTION", "1") not in ("0", "false", "no"),
            load_demo=env.get("ML_LOAD_DEMO", "1") not in ("0", "false", "no"),
            graphiql=_flag(env, "ML_GRAPHIQL", not production),
            allowed_origins=origins,
            write_wait_seconds=float(env.get("ML_WRITE_WAIT_SECONDS", "10")),
            leader_stall_seconds=float(env.get("ML_LEADER_STALL_SECONDS", str(DEFAULT_STALL_SECONDS))),
            pool_size=int(env.get("ML_POOL_SIZE", "10")),
            subscription_buffer=int(env.get("ML_SUBSCRIPTION_BUFFER", "1000")),
            max_subscriptions_per_connection=int(env.get("ML_MAX_SUBSCRIPTIONS_PER_CONNECTION", "20")),
            public_read=_flag(env, "ML_PUBLIC_READ", False),
            introspection=_flag(env, "ML_INTROSPECTION", not production),
            max_body_bytes=int(env.get("ML_MAX_BODY_BYTES", str(1 << 20))),
            header_timeout_seconds=float(env.get("ML_HEADER_TIMEOUT_SECONDS", "10")),
            mutation_rate=float(env.get("ML_MUTATION_RATE", "20")),
            mutation_burst=int(env.get("ML_MUTATION_BURST", "60")),
            response_cache=_flag(env, "ML_RESPONSE_CACHE", True),
            response_cache_bytes=int(float(env.get("ML_RESPONSE_CACHE_MB", "64")) * (1 << 20)),
            persisted_queries_bytes=int(float(env.get("ML_PERSISTED_QUERIES_MB", "8")) * (1 << 20)),
            speedups=_flag(env, "ML_SPEEDUPS", True),
            metrics=_flag(env, "ML_METRICS", True),
            metrics_port=int(env["ML_METRICS_PORT"]) if env.get("ML_METRICS_PORT") else None,
            metrics_host=env.get("ML_METRICS_HOST", "127.0.0.1"),
            metrics_dir=env.get("PROMETHEUS_MULTIPROC_DIR") or None,
            gc_thresholds=parse_thresholds(env.get("ML_GC_THRESHOLDS")),
            token=env.get("ML_TOKEN") or None,
            projector=env.get("ML_PROJECTOR", "process"),
            jwt=_jwt(env),
            webhooks=_webhooks(env),
            # Comma-separated: a URL's own query string separates its options with `&`, never a comma.
            read_database_urls=tuple(u.strip() for u in env.get("ML_READ_DATABASE_URLS", "").split(",") if u.strip()),
            read_max_lag_seconds=float(env.get("ML_READ_MAX_LAG_SECONDS", "5")),
            read_wait_seconds=float(env.get("ML_READ_WAIT_SECONDS", "1")),
            read_check_seconds=float(env.get("ML_READ_CHECK_SECONDS", "1")),
            log_format=env.get("ML_LOG_FORMAT", "text").strip().lower() or "text",
            opentelemetry=_flag(env, "ML_OPENTELEMETRY", False),
        )


def _jwt(env: Mapping[str, str]) -> JwtSettings | None:
    """From ML_OIDC_ISSUER, ML_OIDC_AUDIENCE, ML_OIDC_JWKS_URL, ML_OIDC_JWKS_FILE, ML_JWT_HS256_SECRET,
    ML_OIDC_LEEWAY_SECONDS, ML_OIDC_JWKS_TTL_SECONDS, ML_OIDC_NAME_CLAIMS (comma separated),
    ML_OIDC_{PARTNERSHIP,ROLES,THEMES,MEASURES}_CLAIM and ML_OIDC_ALL_PARTNERSHIPS_VALUE; None when
    neither an issuer nor a secret is set (JWTs off)."""
    if not env.get("ML_OIDC_ISSUER") and not env.get("ML_JWT_HS256_SECRET"):
        return None
    # Here rather than at the top: PyJWT and cryptography would otherwise be loaded by every process that reads
    # its settings, the projector's and the webhook dispatcher's included, which never verify a token.
    from service.auth.jwt import JwtSettings

    names = tuple(n.strip() for n in env.get("ML_OIDC_NAME_CLAIMS", "sub").split(",") if n.strip())
    return JwtSettings(
        issuer=env.get("ML_OIDC_ISSUER", ""),
        audience=env.get("ML_OIDC_AUDIENCE", ""),
        jwks_url=env.get("ML_OIDC_JWKS_URL") or None,
        jwks_file=Path(env["ML_OIDC_JWKS_FILE"]) if env.get("ML_OIDC_JWKS_FILE") else None,
        hs256_secret=env.get("ML_JWT_HS256_SECRET") or None,
        leeway_seconds=float(env.get("ML_OIDC_LEEWAY_SECONDS", "30")),
        jwks_ttl_seconds=float(env.get("ML_OIDC_JWKS_TTL_SECONDS", "300")),
        name_claims=names,
        partnership_claim=env.get("ML_OIDC_PARTNERSHIP_CLAIM", "partnership"),
        roles_claim=env.get("ML_OIDC_ROLES_CLAIM", "roles"),
        themes_claim=env.get("ML_OIDC_THEMES_CLAIM", "themes"),
        measures_claim=env.get("ML_OIDC_MEASURES_CLAIM", "measures"),
        all_partnerships_value=env.get("ML_OIDC_ALL_PARTNERSHIPS_VALUE") or None,
    )


def _webhooks(env: Mapping[str, str]) -> WebhookSettings:
    def number(name: str, default: float) -> float:
        raw = env.get(name)
        return default if raw is None or not raw.strip() else float(raw)

    return WebhookSettings(
        allowed=AllowedHosts.parse(env.get("ML_WEBHOOK_ALLOW_HOSTS", "")),
        timeout_seconds=number("ML_WEBHOOK_TIMEOUT_SECONDS", 10.0),
        max_response_bytes=int(number("ML_WEBHOOK_MAX_RESPONSE_BYTES", 64 << 10)),
        retry_base_seconds=number("ML_WEBHOOK_RETRY_BASE_SECONDS", 5.0),
        retry_max_seconds=number("ML_WEBHOOK_RETRY_MAX_SECONDS", 3600.0),
        give_up_seconds=number("ML_WEBHOOK_GIVE_UP_HOURS", 24.0) * 3600.0,
        log_days=number("ML_WEBHOOK_LOG_DAYS", 30.0),
        poll_seconds=number("ML_WEBHOOK_POLL_SECONDS", 5.0),
        stall_seconds=number("ML_LEADER_STALL_SECONDS", DEFAULT_STALL_SECONDS),
        run=_flag(env, "ML_RUN_DELIVERIES", True),
    )


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    return default if raw is None else raw.strip().lower() not in ("0", "false", "no", "off", "")


def eventsourcing_env(database_url: str) -> dict[str, str]:
    """The eventsourcing POSTGRES_* settings for a libpq URL or key=value string."""
    parts = psycopg.conninfo.conninfo_to_dict(database_url)
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": str(parts.get("dbname") or "postgres"),
        "POSTGRES_HOST": str(parts.get("host") or "127.0.0.1"),
        "POSTGRES_PORT": str(parts.get("port") or "5432"),
        "POSTGRES_USER": str(parts.get("user") or "postgres"),
        "POSTGRES_PASSWORD": str(parts.get("password") or ""),
        # Writers take a table lock in turn anyway; a small pool that can grow
        # keeps many processes within the server's connection limit.
        "POSTGRES_POOL_SIZE": "2",
        "POSTGRES_MAX_OVERFLOW": "8",
        # A write loads its aggregate: keep recent ones and fast-forward them from
        # the store (other processes may have written), instead of replaying
        # every revision of a long-lived measure each time.
        "AGGREGATE_CACHE_MAXSIZE": "2000",
        "AGGREGATE_CACHE_FASTFORWARD": "y",
    }


def with_database(database_url: str, dbname: str) -> str:
    """The same server, another database."""
    parts = psycopg.conninfo.conninfo_to_dict(database_url)
    parts["dbname"] = dbname
    return psycopg.conninfo.make_conninfo(**{k: str(v) for k, v in parts.items() if v is not None})
