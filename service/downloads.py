"""The download routes, for an auditor's bearer token: a plan as YAML (importable) or CSV
(service/plan_export.py), and the audit trail as CSV or JSON Lines, streamed (service/audit_export.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any
from uuid import UUID

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from domain.errors import DomainError
from service import audit_trail
from service.audit_export import BATCH, FORMATS, render, selection_of
from service.auth.authenticate import bearer_from_header, principal_for
from service.auth.errors import AuthenticationError
from service.auth.policy import Action, refusal
from service.auth.principal import Principal
from service.plan_export import export_plan_csv, export_plan_yaml
from service.replicas import MinPositionError, min_position
from service.schema.context import Services

MEDIA = {"yaml": "application/yaml", "csv": "text/csv; charset=utf-8"}


def refuse(status: int, code: str, message: str, field: str | None = None) -> JSONResponse:
    """An error body shaped like a GraphQL one, for the download routes."""
    extensions = {"code": code} if field is None else {"code": code, "field": field}
    return JSONResponse({"errors": [{"message": message, "extensions": extensions}]}, status_code=status)


async def caller(services: Services, request: Request) -> Principal | None:
    """The principal of the request's credentials, or None; AuthenticationError if they are refused."""
    return await principal_for(
        services.pool,
        services.verifier,
        bearer_from_header(request.headers.get("authorization")),
        public_read=services.settings.public_read,
    )


async def partnership_of(services: Services, plan_id: UUID | None, measure_id: UUID | None) -> str | None:
    """The partnership a download is about, from the ledger; None if it names neither or nothing exists."""

    def find() -> str | None:
        try:
            if measure_id is not None:
                plan_id_found = services.ledger.get_measure(measure_id).plan_id
                return services.ledger.get_plan(plan_id_found).partnership
            if plan_id is not None:
                return services.ledger.get_plan(plan_id).partnership
        except DomainError:
            return None
        return None

    return await run_in_threadpool(find)


async def permitted(
    services: Services, request: Request, what: str, plan_id: UUID | None = None, measure_id: UUID | None = None
) -> Principal | Response:
    """The auditor asking for a download, or the refusal to send instead."""
    try:
        principal = await caller(services, request)
    except AuthenticationError as e:
        return refuse(401, "UNAUTHENTICATED", f"not authenticated: {e.reason}")
    if principal is None:
        return refuse(401, "UNAUTHENTICATED", f"a bearer token is needed to {what}")
    partnership = await partnership_of(services, plan_id, measure_id)
    target = partnership or principal.partnership
    refused = refusal(principal, Action.READ_AUDIT, partnership=target)
    if refused is not None:
        code = (refused.extensions or {}).get("code", "FORBIDDEN")
        return refuse(401 if code == "UNAUTHENTICATED" else 403, str(code), refused.message)
    return principal


async def plan_download(services: Services, request: Request) -> Response:
    """GET /plans/{plan_id}/export?format=yaml|csv, with a bearer token of an auditor of its partnership."""
    try:
        requested = UUID(request.path_params["plan_id"])
    except ValueError:
        requested = None
    allowed = await permitted(services, request, "download a plan", plan_id=requested)
    if isinstance(allowed, Response):
        return allowed
    fmt = request.query_params.get("format", "yaml")
    if fmt not in MEDIA:
        return refuse(400, "VALIDATION", f"format: must be yaml or csv, not {fmt[:20]!r}")
    try:
        plan_id = UUID(request.path_params["plan_id"])
    except ValueError:
        return refuse(400, "VALIDATION", "planId: not a valid id")
    export = export_plan_yaml if fmt == "yaml" else export_plan_csv
    try:
        at_least = min_position(request.headers)
    except MinPositionError as e:
        return refuse(400, "VALIDATION", str(e), e.field)

    async def export_from(pool: Any) -> str:
        # A standby's event store, if it has reached the client's position; else the primary's.
        ledger = services.replicas.ledger_of(pool)
        return await run_in_threadpool(export, services.ledger if ledger is None else ledger, plan_id)

    try:
        body = await services.replicas.run(at_least, export_from)
    except DomainError as e:
        return refuse(404 if e.code == "NOT_FOUND" else 400, e.code, str(e))
    filename = f"plan-{plan_id}.{fmt}"
    return Response(body, media_type=MEDIA[fmt], headers={"content-disposition": f'attachment; filename="{filename}"'})


async def audit_download(services: Services, request: Request) -> Response:
    """GET /audit/export?format=csv|jsonl&actor=...&planId=...: the audit trail, streamed, with a bearer token."""
    fmt = request.query_params.get("format", "csv")
    try:
        chosen = selection_of(request.query_params)
    except DomainError as e:
        chosen = None
        invalid = refuse(400, e.code, str(e))
    allowed = await permitted(
        services, request, "export the audit trail", chosen and chosen.plan_id, chosen and chosen.measure_id
    )
    if isinstance(allowed, Response):
        return allowed
    if chosen is None:
        return invalid
    if fmt not in FORMATS:
        return refuse(400, "VALIDATION", f"format: must be csv or jsonl, not {fmt[:20]!r}")
    if allowed.partnership is not None:
        chosen = replace(chosen, partnership=allowed.partnership)
    try:
        at_least = min_position(request.headers)
    except MinPositionError as e:
        return refuse(400, "VALIDATION", str(e), e.field)
    # A standby that has reached the client's position; a stream is not run again elsewhere once begun.
    pool = await services.replicas.reader(at_least)

    async def body() -> AsyncIterator[str]:
        if fmt == "csv":
            yield render((), fmt, header=True)
        async for rows in audit_trail.stream(pool, chosen, BATCH):
            yield render(rows, fmt)

    filename = f"audit-trail.{fmt}"
    return StreamingResponse(
        body(), media_type=FORMATS[fmt], headers={"content-disposition": f'attachment; filename="{filename}"'}
    )
