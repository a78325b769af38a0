"""Authenticated downloads: a plan as YAML (importable) or CSV."""

from __future__ import annotations

from uuid import UUID

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from domain.errors import DomainError
from service import tokens
from service.exporter import export_plan_csv, export_plan_yaml
from service.schema.context import Services

MEDIA = {"yaml": "application/yaml", "csv": "text/csv; charset=utf-8"}


def refuse(status: int, code: str, message: str) -> JSONResponse:
    """An error body shaped like a GraphQL one, for the download routes."""
    return JSONResponse({"errors": [{"message": message, "extensions": {"code": code}}]}, status_code=status)


async def caller(services: Services, request: Request) -> tokens.Principal | None:
    """The principal of the request's bearer token, or None."""
    header = request.headers.get("authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else ""
    return await tokens.authenticate(services.pool, token) if token else None


async def plan_export(services: Services, request: Request) -> Response:
    """GET /plans/{plan_id}/export?format=yaml|csv, with a bearer token."""
    if await caller(services, request) is None:
        return refuse(401, "UNAUTHENTICATED", "a bearer token is needed to download a plan")
    fmt = request.query_params.get("format", "yaml")
    if fmt not in MEDIA:
        return refuse(400, "VALIDATION", f"format: must be yaml or csv, not {fmt[:20]!r}")
    try:
        plan_id = UUID(request.path_params["plan_id"])
    except ValueError:
        return refuse(400, "VALIDATION", "planId: not a valid id")
    export = export_plan_yaml if fmt == "yaml" else export_plan_csv
    try:
        body = await run_in_threadpool(export, services.ledger, plan_id)
    except DomainError as e:
        return refuse(404 if e.code == "NOT_FOUND" else 400, e.code, str(e))
    filename = f"plan-{plan_id}.{fmt}"
    return Response(body, media_type=MEDIA[fmt], headers={"content-disposition": f'attachment; filename="{filename}"'})
