"""Short-lived signed links to a report, so that a browser can open one without a bearer header.

A browser cannot send `Authorization` from its address bar, and a token must
never travel in a URL (URLs are logged, kept in history, sent on as Referer).
So a caller with a token asks GraphQL for `reportLink(planId, asOf, publication)`;
the link it gets holds no token, only what the caller may see — the plan, the moment
(now, `asOf`, or one of the plan's publications),
the caller's name, partnership and roles — and an expiry, signed with HMAC
(itsdangerous) under a secret kept in the database, shared by every process.
Anyone holding the link sees that one plan's report, at that moment, as that
caller would, until it expires; no wider, and never after.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
from itsdangerous import BadSignature, URLSafeSerializer

from service.auth.principal import Principal, parse_roles

# How long a link stays good. Long enough to open, read, print and download the report's PDF and CSV;
# short enough that a link left in a browser's history or a proxy's log is soon worth nothing.
LINK_SECONDS = 15 * 60
PARAMETER = "link"
# A grant's view of one publication: this prefix and its id (an `asOf` view is an ISO moment, never this).
PUBLICATION = "publication:"
DDL = """CREATE TABLE IF NOT EXISTS report_link_secret (
    id integer PRIMARY KEY CHECK (id = 1),
    secret bytea NOT NULL
)"""


def view_of(as_of: datetime | None, publication: UUID | None) -> str:
    """What a report shows, as a grant holds it: "" for now, the `asOf` moment in UTC, or a publication."""
    if publication is not None:
        return f"{PUBLICATION}{publication}"
    return "" if as_of is None else as_of.astimezone(UTC).isoformat()


def query_of(view: str) -> dict[str, str]:
    """The query parameters of a report's address that ask for `view`."""
    if view.startswith(PUBLICATION):
        return {"publication": view.removeprefix(PUBLICATION)}
    return {"asOf": view} if view else {}


class LinkError(Exception):
    """A link that is not ours, was altered, has expired, or is for something else."""


@dataclass(frozen=True)
class Grant:
    """What a link lets its holder read: one plan, at one moment (`view_of`), as one principal, until `expires`."""

    plan_id: UUID
    view: str
    principal: Principal
    expires: datetime


class LinkSigner:
    def __init__(self, secret: bytes) -> None:
        self._serializer = URLSafeSerializer(secret, salt="measure-ledger report link")

    def sign(self, plan_id: UUID, view: str, principal: Principal, now: datetime | None = None) -> Grant:
        expires = (now or datetime.now(UTC)) + timedelta(seconds=LINK_SECONDS)
        return Grant(plan_id, view, principal, expires.replace(microsecond=0))

    def encode(self, grant: Grant) -> str:
        p = grant.principal
        claims: dict[str, Any] = {
            "plan": str(grant.plan_id),
            "view": grant.view,
            "name": p.name,
            "partnership": p.partnership,
            "roles": sorted(r.value for r in p.roles),
            "kind": p.kind,
            "exp": int(grant.expires.timestamp()),
        }
        return str(self._serializer.dumps(claims))

    def decode(self, text: str, now: datetime | None = None) -> Grant:
        """The grant a link carries; LinkError if it is not a valid, unexpired link of ours."""
        try:
            claims = self._serializer.loads(text)
            expires = datetime.fromtimestamp(int(claims["exp"]), UTC)
            principal = Principal(
                str(claims["name"]),
                claims["partnership"],
                parse_roles(claims["roles"]),
                kind=claims["kind"],
            )
            grant = Grant(UUID(claims["plan"]), str(claims["view"]), principal, expires)
        except BadSignature:
            raise LinkError("this report link is not valid (altered, or signed by another server)") from None
        except (KeyError, TypeError, ValueError):
            raise LinkError("this report link is not valid") from None
        if grant.expires <= (now or datetime.now(UTC)):
            raise LinkError("this report link has expired; ask for a new one with the reportLink query")
        return grant


async def signer(pool: asyncpg.Pool) -> LinkSigner:
    """The signer of this database's links: its secret made once, by whichever process comes first.

    Its table is made with the others at start-up (`DDL`; service/startup.py serialises that)."""
    await pool.execute(
        "INSERT INTO report_link_secret (id, secret) VALUES (1, $1) ON CONFLICT (id) DO NOTHING",
        secrets.token_bytes(32),
    )
    secret: bytes = await pool.fetchval("SELECT secret FROM report_link_secret WHERE id = 1")
    return LinkSigner(secret)
