"""`reportLink`: a short-lived signed link to a plan's board report, for opening in a browser."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated
from urllib.parse import urlencode

import strawberry
from strawberry.types import Info

from service.auth.policy import Action
from service.auth.report_links import PARAMETER, query_of, view_of
from service.schema.as_of import as_of_argument
from service.schema.cycle.queries import publication_of
from service.schema.descriptions import PLAN_ID
from service.schema.errors import error, parse_id


@strawberry.enum(description="What a report link opens: the page, its PDF (A4 landscape) or its table as CSV.")
class ReportFormat(Enum):
    HTML = strawberry.enum_value("html", description="The report page, for a browser.")
    PDF = strawberry.enum_value("pdf", description="The report as a PDF, A4 landscape.")
    CSV = strawberry.enum_value("csv", description="The report's table as CSV, one row per figure.")


@strawberry.type(description="A link to a plan's report that a browser can open without a token, until it expires.")
class ReportLink:
    url: str = strawberry.field(description="The link on the server that answered; it holds no token.")
    path: str = strawberry.field(description="The same link without the server's address.")
    expires_at: datetime = strawberry.field(
        description="When the link stops working (UTC), 15 minutes after it was made."
    )


@strawberry.type
class ReportQueries:
    @strawberry.field(
        description="A link to the plan's board report as you may see it, now, asOf a moment (auditors), or as one "
        "of the plan's publications showed it, that opens in a browser without a bearer header and expires after "
        "15 minutes. It is signed, holds no token and opens only this plan's report at this moment (and that "
        "report's PDF, CSV and figure histories)."
    )
    async def report_link(
        self,
        info: Info,
        plan_id: Annotated[strawberry.ID, strawberry.argument(description=PLAN_ID)],
        as_of: Annotated[datetime | None, as_of_argument("report")] = None,
        format: Annotated[
            ReportFormat, strawberry.argument(description="What the link opens: HTML (the default), PDF or CSV.")
        ] = ReportFormat.HTML,
        publication: Annotated[
            strawberry.ID | None,
            strawberry.argument(
                description="One of the plan's publications' `id`: the report as it showed it. Not with asOf."
            ),
        ] = None,
    ) -> ReportLink:
        plan = parse_id(plan_id, "planId")
        if as_of is not None and as_of.tzinfo is None:
            raise error("VALIDATION", "asOf: give a time zone offset, e.g. 2012-09-25T09:00:00Z", "asOf")
        if as_of is not None and publication is not None:
            raise error("VALIDATION", "publication: give asOf or publication, not both", "publication")
        context = info.context
        target = await context.plan_target(plan)
        principal = context.require(Action.READ_CURRENT if as_of is None else Action.READ_AUDIT, target)
        if target is None:
            raise error("NOT_FOUND", f"there is no plan {plan}", "planId")
        published = None if publication is None else await publication_of(info, publication, "publication")
        if publication is not None and (published is None or published["plan_id"] != plan):
            raise error("NOT_FOUND", f"publication: plan {plan} has no publication {publication}", "publication")
        signer = context.services.report_links
        if signer is None:
            raise error("INTERNAL", "report links are not available yet; try again in a moment")
        view = view_of(as_of, published["id"] if published else None)
        grant = signer.sign(plan, view, principal)
        params = query_of(view)
        if format is not ReportFormat.HTML:
            params["format"] = format.value
        params[PARAMETER] = signer.encode(grant)
        path = f"/reports/{plan}?{urlencode(params)}"
        base = str(context.request.base_url).rstrip("/") if context.request is not None else ""
        return ReportLink(url=base + path, path=path, expires_at=grant.expires)
