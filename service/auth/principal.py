"""Who is calling: a name for the audit trail, a partnership, roles and an optional scope.

A principal comes from an API token (`kind="token"`), from an OpenID Connect
bearer JWT (`kind="jwt"`), or is the anonymous reader of public read-only mode
(`kind="public"`). Authorization decisions are made from these fields alone by
`service.auth.policy`, so they can be tested without a database or a request.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal


class Role(StrEnum):
    """What a principal may do within its partnership (all of them when `partnership` is None)."""

    VIEWER = "viewer"  # read the current state
    AUDITOR = "auditor"  # + audit trail, history, time travel, exports
    SUBMITTER = "submitter"  # + submit and revise figures, commentary, unavailability
    EDITOR = "editor"  # + plans, themes, measures, baselines, status overrides, owners
    APPROVER = "approver"  # + open collections, approve or send back returns, reopen them, publish quarters
    ADMIN = "admin"  # everything, tokens included


# Each role and the roles it includes. Auditor, submitter, editor and approver are
# deliberately separate: whoever reports the figures should not also be able to
# redefine the measure, override its status or sign its return off, unless given both roles.
_IMPLIES: dict[Role, frozenset[Role]] = {
    Role.VIEWER: frozenset({Role.VIEWER}),
    Role.AUDITOR: frozenset({Role.AUDITOR, Role.VIEWER}),
    Role.SUBMITTER: frozenset({Role.SUBMITTER, Role.VIEWER}),
    Role.EDITOR: frozenset({Role.EDITOR, Role.VIEWER}),
    Role.APPROVER: frozenset({Role.APPROVER, Role.VIEWER}),
    Role.ADMIN: frozenset(Role),
}

PrincipalKind = Literal["token", "jwt", "public"]


def effective_roles(roles: Iterable[Role]) -> frozenset[Role]:
    """The roles granted, with the roles they include."""
    return frozenset().union(*(_IMPLIES[r] for r in roles))


def parse_roles(values: Iterable[str | Role]) -> frozenset[Role]:
    """Roles from their names, case-insensitively; an unknown name is a ValueError naming it."""
    roles: set[Role] = set()
    for value in values:
        try:
            roles.add(Role(str(value).strip().lower()))
        except ValueError:
            known = ", ".join(r.value for r in Role)
            raise ValueError(f"unknown role {str(value)[:40]!r} (known: {known})") from None
    return frozenset(roles)


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller. `name` is recorded as the actor of every event they cause.

    `partnership` None means every partnership (operator tokens and public
    read-only mode). `themes`/`measures` None means no scope restriction; a set
    restricts writes to measures of those theme codes or with those numbers.
    """

    name: str
    partnership: str | None
    roles: frozenset[Role]
    themes: frozenset[str] | None = None
    measures: frozenset[str] | None = None
    kind: PrincipalKind = "token"

    def __post_init__(self) -> None:
        # Accept any iterable from callers but keep the value hashable and immutable.
        object.__setattr__(self, "roles", frozenset(self.roles))
        if self.themes is not None:
            object.__setattr__(self, "themes", frozenset(self.themes))
        if self.measures is not None:
            object.__setattr__(self, "measures", frozenset(self.measures))

    @property
    def effective_roles(self) -> frozenset[Role]:
        return effective_roles(self.roles)

    def has_role(self, role: Role) -> bool:
        return role in self.effective_roles

    @property
    def scoped(self) -> bool:
        """True when writes are limited to some themes or measures."""
        return self.themes is not None or self.measures is not None

    def describe(self) -> str:
        """A short description for error messages: name, roles and partnership."""
        roles = ", ".join(sorted(r.value for r in self.roles)) or "no role"
        where = "every partnership" if self.partnership is None else f"partnership {self.partnership!r}"
        return f"{self.name!r} ({roles} of {where})"


PUBLIC_NAME = "anonymous"


def public_principal() -> Principal:
    """The caller without credentials in public read-only mode: a viewer of every partnership's current state."""
    return Principal(PUBLIC_NAME, None, frozenset({Role.VIEWER}), kind="public")


def operator_principal(name: str) -> Principal:
    """An all-powerful principal: admin of every partnership (bare API tokens; see service.auth.tokens)."""
    return Principal(name, None, frozenset({Role.ADMIN}), kind="token")
