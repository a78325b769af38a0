"""Authorization as pure functions of a principal, an action and what it is aimed at.

Resolvers call `require(principal, action, partnership=...)` before reading or
writing; it raises the GraphQL error the client should see:
UNAUTHENTICATED when there is no principal, FORBIDDEN naming the missing role,
the foreign partnership or the measure outside the principal's scope.

Rules:
- each action needs one role (`REQUIRED_ROLE`); admin includes every role,
  auditor, submitter, editor and approver each include viewer;
- a principal with a partnership acts only in that partnership (compared
  case-insensitively, as plan identities are); one without acts in all;
- a scope (themes and/or measure numbers) narrows *writes* only: a scoped
  principal may write to a measure whose theme code or number is in its scope,
  and may not make plan-level changes or manage tokens. Reads are partnership-wide.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Required, TypedDict, Unpack

from graphql import GraphQLError

from service.auth.errors import coded
from service.auth.principal import Principal, Role


class Action(StrEnum):
    READ_CURRENT = "read_current"  # plans, measures, statuses as they are now
    READ_AUDIT = "read_audit"  # audit trail, history, asOf time travel, exports
    SUBMIT = "submit"  # submit/revise figures, commentary, mark unavailable
    EDIT = "edit"  # plans, themes, measures, baselines, status overrides, owners
    APPROVE = "approve"  # collections, approving, sending back and reopening returns, publishing
    ADMIN = "admin"  # API tokens


REQUIRED_ROLE: dict[Action, Role] = {
    Action.READ_CURRENT: Role.VIEWER,
    Action.READ_AUDIT: Role.AUDITOR,
    Action.SUBMIT: Role.SUBMITTER,
    Action.EDIT: Role.EDITOR,
    Action.APPROVE: Role.APPROVER,
    Action.ADMIN: Role.ADMIN,
}

# How each action is named in messages, so a client knows what was refused.
DOING: dict[Action, str] = {
    Action.READ_CURRENT: "reading the ledger",
    Action.READ_AUDIT: "reading the audit trail, history or past states",
    Action.SUBMIT: "submitting figures, commentary or unavailability",
    Action.EDIT: "editing plans, themes, measures, baselines, status overrides or owners",
    Action.APPROVE: "opening collections, approving, sending back or reopening returns, or publishing quarters",
    Action.ADMIN: "managing API tokens and webhooks",
}

WRITES = frozenset({Action.SUBMIT, Action.EDIT, Action.APPROVE, Action.ADMIN})


def _same(a: str, b: str) -> bool:
    return a.casefold() == b.casefold()


def refusal(
    principal: Principal | None,
    action: Action,
    *,
    partnership: str | None,
    theme_code: str | None = None,
    measure_number: str | None = None,
) -> GraphQLError | None:
    """The error refusing `action`, or None when it is allowed.

    `partnership` is the partnership acted in; None means "not one partnership"
    (e.g. listing every token), which only an all-partnership principal may do.
    """
    if principal is None:
        return coded("UNAUTHENTICATED", f"{DOING[action]} needs a bearer token in the Authorization header")
    needed = REQUIRED_ROLE[action]
    if not principal.has_role(needed) and principal.kind == "public":
        # The anonymous reader of public mode presented no credentials: the remedy is to authenticate.
        return coded(
            "UNAUTHENTICATED",
            f"{DOING[action]} needs a bearer token with the {needed.value} role in the Authorization header",
            requiredRole=needed.value,
        )
    if not principal.has_role(needed):
        return coded(
            "FORBIDDEN",
            f"{DOING[action]} needs the {needed.value} role; {principal.describe()} does not have it",
            requiredRole=needed.value,
        )
    if principal.partnership is not None:
        if partnership is None:
            return coded(
                "FORBIDDEN",
                f"{DOING[action]} across partnerships needs a principal of every partnership; "
                f"{principal.describe()} is limited to one",
            )
        if not _same(principal.partnership, partnership):
            return coded(
                "FORBIDDEN",
                f"{principal.describe()} may not act in partnership {partnership!r}",
                partnership=partnership,
            )
    if action in WRITES and principal.scoped and not _in_scope(principal, theme_code, measure_number):
        target = f"measure {measure_number!r}" if measure_number else None
        if theme_code:
            target = f"{target} of theme {theme_code!r}" if target else f"theme {theme_code!r}"
        return coded(
            "FORBIDDEN",
            f"{DOING[action]}: {target or 'a plan-level change'} is outside the scope of "
            f"{principal.name!r} (themes: {_listed(principal.themes)}; measures: {_listed(principal.measures)})",
        )
    return None


def _in_scope(principal: Principal, theme_code: str | None, measure_number: str | None) -> bool:
    # A scope is a grant: a measure is in it if its theme or its number is listed.
    if theme_code is not None and principal.themes is not None and theme_code in principal.themes:
        return True
    return measure_number is not None and principal.measures is not None and measure_number in principal.measures


def _listed(values: frozenset[str] | None) -> str:
    if values is None:
        return "any"
    return ", ".join(sorted(values)) or "none"


class Where(TypedDict, total=False):
    """What an action is aimed at, as `refusal` takes it: `partnership` always (None: not one partnership), and
    for writes the theme or measure (a scope is checked against them)."""

    partnership: Required[str | None]
    theme_code: str | None
    measure_number: str | None


def can(principal: Principal | None, action: Action, **where: Unpack[Where]) -> bool:
    """Whether `principal` may do `action` in `partnership` (on that theme or measure, for writes)."""
    return refusal(principal, action, **where) is None


def require(principal: Principal | None, action: Action, **where: Unpack[Where]) -> Principal:
    """The principal, if it may do `action`; else raise UNAUTHENTICATED or FORBIDDEN with the reason."""
    found = refusal(principal, action, **where)
    if found is not None:
        raise found
    assert principal is not None  # refusal() answers UNAUTHENTICATED for None
    return principal


def may_submit_return(principal: Principal, owner: str | None) -> bool:
    """Whether `principal`, who may submit figures for a measure, may also give its return in.

    A return is its owner's word: the measure's owner gives it in, or an editor for them.
    A measure with no owner yet takes a return from any submitter of it.
    """
    return owner is None or _same(principal.name, owner) or principal.has_role(Role.EDITOR)


def partnership_filter(principal: Principal | None, requested: str | None) -> str | None:
    """The partnership a listing (e.g. `plans(partnership:)`) must be limited to.

    A principal of one partnership sees only that one, whether or not it asked;
    asking for another is FORBIDDEN. Returns None (no filter) only for an
    all-partnership principal that asked for none.
    """
    principal = require(principal, Action.READ_CURRENT, partnership=requested or _own(principal))
    return requested or principal.partnership


def _own(principal: Principal | None) -> str | None:
    return principal.partnership if principal is not None else None
