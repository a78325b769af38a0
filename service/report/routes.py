"""GET /reports/{plan_id}: the board report (HTML, `format=pdf` or `format=csv`), now, `asOf` a moment, or as
one of the plan's publications showed it (`publication=ID`);
GET /reports/{plan_id}/measures/{measure_id}/history: every audit entry of a measure, by figure.

Who may read: a bearer token (scripts), a signed link from the `reportLink` query (browsers:
service/auth/report_links.py), or nobody at all where ML_PUBLIC_READ is on (the current report only, as any
anonymous caller sees it, and its publications). The same policy as GraphQL's: the present and the publications
for viewers, `asOf` and history for auditors, one partnership's plans for a principal of one partnership.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

from markupsafe import Markup, escape
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from service import cycle_reads
from service.auth import report_links
from service.auth.authenticate import bearer_from_header, principal_for
from service.auth.errors import AuthenticationError
from service.auth.policy import Action, can, refusal
from service.auth.principal import Principal
from service.replicas import MinPositionError, min_position
from service.report import moment, render
from service.report.model import FigureCell, MeasureReport, load_report
from service.schema.context import Services
from service.schema.loaders import Loaders

FORMATS = {"html": "text/html; charset=utf-8", "csv": "text/csv; charset=utf-8", "pdf": "application/pdf"}
# The page runs no script and fetches nothing: a policy that says so keeps anything injected inert.
HEADERS = {
    "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none';"
    " form-action 'none'; frame-ancestors 'none'",
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
    "cache-control": "private, no-store",
}


CODES = {400: "VALIDATION", 401: "UNAUTHENTICATED", 403: "FORBIDDEN", 404: "NOT_FOUND", 503: "INTERNAL"}


class Refused(Exception):
    def __init__(self, status: int, message: str, **extensions: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.extensions = {"code": CODES[status], **extensions}


@dataclass(frozen=True)
class Reader:
    """Who reads a report, how they came (`link`: the signed link they hold, if any), and what they asked for."""

    principal: Principal
    plan_id: UUID
    partnership: str
    as_of: datetime | None
    grant: report_links.Grant | None = None
    published: moment.Published | None = None

    @property
    def view(self) -> str:
        return report_links.view_of(self.as_of, self.published.id if self.published else None)


async def report(services: Services, request: Request) -> Response:
    """The report of one plan, as HTML, PDF or CSV."""
    return await _on_reader(services, request, _report)


async def history(services: Services, request: Request) -> Response:
    """Every audit entry of one measure of the plan, grouped by figure, the report's position marked."""
    return await _on_reader(services, request, _history)


async def _on_reader(
    services: Services, request: Request, answer: Callable[[Services, Request], Awaitable[Response]]
) -> Response:
    """`answer`, its reads (`services.pool`) on a standby that has reached the request's X-Min-Position, or
    the primary; tokens are checked on the primary (`services.replicas.primary`), so a revoked one is refused."""
    try:
        try:
            at_least = min_position(request.headers)
        except MinPositionError as e:
            raise Refused(400, str(e), field=e.field) from None
        return await services.replicas.run(at_least, lambda pool: answer(replace(services, pool=pool), request))
    except Refused as e:
        return _refusal(request, e)


async def _report(services: Services, request: Request) -> Response:
    fmt = request.query_params.get("format", "html")
    if fmt not in FORMATS:
        raise Refused(400, f"format: must be html, pdf or csv, not {fmt[:20]!r}", field="format")
    reader = await _reader(services, request)
    shown = await _shown(services, reader)
    found = await load_report(services.pool, reader.plan_id, shown)
    if found is None:
        raise Refused(404, "this plan did not exist yet at that moment")
    page = render.html(found, _links(services, request, reader), datetime.now(UTC))
    if fmt == "html":
        return HTMLResponse(page, headers=HEADERS)
    if fmt == "csv":
        body = render.csv_text(found).encode()
    else:
        body = await _pdf(page, str(request.base_url))
    attachment = {"content-disposition": f'attachment; filename="{render.filename(found, fmt)}"'}
    return Response(body, media_type=FORMATS[fmt], headers={**HEADERS, **attachment})


async def _history(services: Services, request: Request) -> Response:
    reader = await _reader(services, request)
    _require(reader.principal, Action.READ_AUDIT, reader.partnership)
    measure_id = _uuid(request.path_params["measure_id"], "measureId")
    now = Loaders(services.pool, None)
    measure = await now.measure.load(measure_id)
    plan = await now.plan.load(reader.plan_id)
    if measure is None or plan is None or measure["plan_id"] != reader.plan_id:
        raise Refused(404, "this plan has no such measure")
    shown = await _shown(services, reader)
    entries, components = await now.history.load(measure_id), await now.components.load(measure_id)
    labels = {c["key"]: c["label"] for c in components}
    page = render.history_html(plan["title"], measure, labels, entries, shown.position, _href(services, reader))
    return HTMLResponse(page, headers=HEADERS)


async def _reader(services: Services, request: Request) -> Reader:
    """The caller and what they may read of this plan; Refused with the status and reason otherwise."""
    plan_id = _uuid(request.path_params["plan_id"], "planId")
    as_of = _moment(request.query_params.get("asOf"))
    publication_id = _optional_uuid(request.query_params.get("publication"), "publication")
    if as_of is not None and publication_id is not None:
        raise Refused(400, "publication: give asOf or publication, not both", field="publication")
    view = report_links.view_of(as_of, publication_id)
    grant = None
    signed = request.query_params.get(report_links.PARAMETER)
    if signed:
        signer = services.report_links
        if signer is None:
            raise Refused(503, "report links are not available yet; try again in a moment")
        try:
            grant = signer.decode(signed)
        except report_links.LinkError as e:
            raise Refused(403, str(e)) from None
        if grant.plan_id != plan_id or grant.view != view:
            raise Refused(403, "this report link is for another plan or another moment")
        principal: Principal | None = grant.principal
    else:
        try:
            principal = await principal_for(
                services.replicas.primary,
                services.verifier,
                bearer_from_header(request.headers.get("authorization")),
                public_read=services.settings.public_read,
            )
        except AuthenticationError as e:
            raise Refused(401, f"not authenticated: {e.reason}") from None
    if principal is None:
        raise Refused(
            401,
            "this report needs a token: open it from a link made by the reportLink query "
            "(it holds no token and expires after a few minutes), or send an Authorization bearer header",
        )
    plan = await Loaders(services.pool, None).plan.load(plan_id)
    if plan is None:
        _require(principal, Action.READ_CURRENT, principal.partnership)
        raise Refused(404, "there is no plan with this id")
    partnership = str(plan["partnership"])
    _require(principal, Action.READ_CURRENT if as_of is None else Action.READ_AUDIT, partnership)
    published = None if publication_id is None else await _publication(services, plan_id, publication_id)
    return Reader(principal, plan_id, partnership, as_of, grant, published)


async def _publication(services: Services, plan_id: UUID, publication_id: UUID) -> moment.Published:
    """One of the plan's publications (asked for after the plan's readers are known: 404 either way)."""
    row = await cycle_reads.publication(services.pool, publication_id)
    if row is None or row["plan_id"] != plan_id:
        raise Refused(404, f"publication: this plan has no publication {publication_id}", field="publication")
    return moment.Published(row["id"], row["quarter"], row["title"], row["presented_on"], row["position"])


async def _shown(services: Services, reader: Reader) -> moment.Shown:
    if reader.published is not None:
        shown = await moment.published(services.pool, reader.published)
        if shown.position != reader.published.position:
            raise Refused(503, "this publication's position is not in the hash chain yet; try again in a moment")
        return shown
    if reader.as_of is None:
        return await moment.current(services.pool, services.ledger.name)
    return await moment.as_of(services.pool, reader.as_of)


def _require(principal: Principal, action: Action, partnership: str | None) -> None:
    found = refusal(principal, action, partnership=partnership)
    if found is not None:
        extensions = dict(found.extensions or {})
        status = 401 if extensions.pop("code", None) == "UNAUTHENTICATED" else 403
        raise Refused(status, found.message, **extensions)


def _href(services: Services, reader: Reader) -> render.Href:
    """Links onward from this page that work for this reader: a signed link carries on, with its expiry."""

    def href(path: str, view: str | None = None, fmt: str | None = None, anchor: str = "") -> str:
        chosen = reader.view if view is None else view
        params = report_links.query_of(chosen)
        if fmt:
            params["format"] = fmt
        if reader.grant is not None and services.report_links is not None:
            params[report_links.PARAMETER] = services.report_links.encode(replace(reader.grant, view=chosen))
        query = f"?{urlencode(params)}" if params else ""
        return f"{path}{query}{anchor}"

    return href


def _links(services: Services, request: Request, reader: Reader) -> render.Links:
    href = _href(services, reader)
    path = render.plan_path(reader.plan_id)
    history = None
    if can(reader.principal, Action.READ_AUDIT, partnership=reader.partnership):

        def history(m: MeasureReport, f: FigureCell) -> str:
            return href(f"{path}/measures/{m.id}/history", anchor=f"#{f.anchor}")

    return render.Links(
        pdf=href(path, fmt="pdf"),
        csv=href(path, fmt="csv"),
        current=href(path, view="") if reader.view else None,
        history=history,
    )


async def _pdf(page: str, base_url: str) -> bytes:
    try:
        return await run_in_threadpool(render.pdf, page, base_url)
    except OSError as e:  # WeasyPrint without its system libraries
        raise Refused(503, f"PDFs need Pango on the server (Debian: apt-get install libpango-1.0-0): {e}") from None


def _uuid(raw: str, field: str) -> UUID:
    try:
        return UUID(raw)
    except ValueError:
        raise Refused(400, f"{field}: {raw[:60]!r} is not a valid id", field=field) from None


def _optional_uuid(raw: str | None, field: str) -> UUID | None:
    return _uuid(raw, field) if raw else None


def _moment(raw: str | None) -> datetime | None:
    if not raw:
        return None
    # A `+01:00` typed into an address bar arrives as a space.
    raw = re.sub(r" (\d{2}:?\d{2})$", r"+\1", raw)
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise Refused(400, f"asOf: {raw[:40]!r} is not an ISO 8601 date and time", field="asOf") from None
    if value.tzinfo is None:
        raise Refused(400, "asOf: give a time zone offset, e.g. 2012-09-25T09:00:00Z", field="asOf")
    return value.astimezone(UTC)


def _refusal(request: Request, e: Refused) -> Response:
    """Why not, as a page for a browser, or as a GraphQL-shaped error (`extensions.code`) for anything else."""
    if "text/html" not in request.headers.get("accept", ""):
        body = {"errors": [{"message": e.message, "extensions": e.extensions}]}
        return JSONResponse(body, status_code=e.status, headers=HEADERS)
    page = Markup(
        '<!doctype html><html lang="en-GB"><head><meta charset="utf-8"><title>Report not shown</title></head>'
        "<body><main><h1>Report not shown</h1><p>{}</p></main></body></html>"
    ).format(escape(e.message))
    return HTMLResponse(str(page), status_code=e.status, headers=HEADERS)
