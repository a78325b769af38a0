"""`GET /metrics` on the API port, for a bearer token (or JWT) with the admin role."""

from __future__ import annotations

import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from service import metrics
from service.auth.authenticate import authenticate, bearer_from_header
from service.auth.errors import AuthenticationError
from service.auth.principal import Role
from service.metrics_sampler import Sampler

log = logging.getLogger(__name__)


async def endpoint(request: Request, services: Any, sampler: Sampler) -> Response:
    """`GET /metrics` on the API port: for a bearer token (or JWT) with the admin role, as operator tokens have."""
    try:
        principal = await authenticate(
            services.pool, services.verifier, bearer_from_header(request.headers.get("authorization"))
        )
    except AuthenticationError as e:
        return _refused(401, f"not authenticated: {e.reason}", "UNAUTHENTICATED")
    except Exception:
        # The token is checked in the database; the metrics of a port of their own need none.
        log.warning("/metrics: the token could not be checked", exc_info=True)
        refusal = "the database cannot be reached to check the token (ML_METRICS_PORT needs none)"
        return _refused(503, refusal, "INTERNAL")
    if principal is None:
        return _refused(401, "the metrics need a bearer token with the admin role", "UNAUTHENTICATED")
    if Role.ADMIN not in principal.roles:
        return _refused(403, "the metrics are for tokens with the admin role", "FORBIDDEN")
    await sampler.sample()
    body, content_type = metrics.exposition()
    return Response(body, headers={"content-type": content_type, "cache-control": "no-store"})


def _refused(status: int, message: str, code: str) -> Response:
    headers = {"www-authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"errors": [{"message": message, "extensions": {"code": code}}]}, status, headers=headers)
