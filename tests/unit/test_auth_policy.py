"""Who may do what: roles, partnerships, scopes and the errors that say why not."""

from __future__ import annotations

import pytest
from graphql import GraphQLError

from service.auth import (
    Action,
    Principal,
    Role,
    can,
    operator_principal,
    partnership_filter,
    public_principal,
    require,
)
from service.auth.policy import REQUIRED_ROLE
from service.auth.principal import effective_roles, parse_roles

STOCKTON = "Safer Stockton Partnership"


def person(*roles: Role, partnership: str | None = STOCKTON, **scope: frozenset[str]) -> Principal:
    return Principal("alice@stockton.gov.uk", partnership, frozenset(roles), kind="jwt", **scope)


def allowed(principal: Principal | None) -> set[Action]:
    return {a for a in Action if can(principal, a, partnership=STOCKTON, theme_code="H", measure_number="1.3")}


def test_each_role_grants_its_actions_and_viewer() -> None:
    assert allowed(person(Role.VIEWER)) == {Action.READ_CURRENT}
    assert allowed(person(Role.AUDITOR)) == {Action.READ_CURRENT, Action.READ_AUDIT}
    assert allowed(person(Role.SUBMITTER)) == {Action.READ_CURRENT, Action.SUBMIT}
    assert allowed(person(Role.EDITOR)) == {Action.READ_CURRENT, Action.EDIT}
    assert allowed(person(Role.APPROVER)) == {Action.READ_CURRENT, Action.APPROVE}
    assert allowed(person(Role.ADMIN)) == set(Action)
    assert allowed(person(Role.SUBMITTER, Role.AUDITOR)) == {Action.READ_CURRENT, Action.READ_AUDIT, Action.SUBMIT}
    assert allowed(person()) == set()


def test_admin_implies_every_role() -> None:
    assert effective_roles({Role.ADMIN}) == frozenset(Role)
    assert effective_roles({Role.EDITOR}) == {Role.EDITOR, Role.VIEWER}


def test_a_partnerships_principal_never_acts_in_another() -> None:
    admin = person(Role.ADMIN)
    for action in Action:
        assert not can(admin, action, partnership="Hartlepool Partnership")
    # Plan identity ignores case, and so does the check.
    assert can(admin, Action.EDIT, partnership=STOCKTON.upper())


def test_forbidden_names_the_foreign_partnership() -> None:
    with pytest.raises(GraphQLError) as e:
        require(person(Role.ADMIN), Action.READ_CURRENT, partnership="Hartlepool Partnership")
    assert e.value.extensions == {"code": "FORBIDDEN", "partnership": "Hartlepool Partnership"}
    assert "'Hartlepool Partnership'" in e.value.message


def test_forbidden_names_the_missing_role() -> None:
    with pytest.raises(GraphQLError) as e:
        require(person(Role.VIEWER), Action.SUBMIT, partnership=STOCKTON, measure_number="1.3")
    assert e.value.extensions == {"code": "FORBIDDEN", "requiredRole": "submitter"}
    assert "needs the submitter role" in e.value.message
    assert "alice@stockton.gov.uk" in e.value.message


def test_no_principal_is_unauthenticated() -> None:
    with pytest.raises(GraphQLError) as e:
        require(None, Action.READ_CURRENT, partnership=STOCKTON)
    assert e.value.extensions == {"code": "UNAUTHENTICATED"}
    assert "bearer token" in e.value.message


def test_require_returns_the_principal() -> None:
    editor = person(Role.EDITOR)
    assert require(editor, Action.EDIT, partnership=STOCKTON) is editor


def test_scope_narrows_writes_to_listed_themes_or_measures() -> None:
    scoped = person(Role.SUBMITTER, Role.EDITOR, themes=frozenset({"H"}), measures=frozenset({"5.1"}))
    assert can(scoped, Action.SUBMIT, partnership=STOCKTON, theme_code="H", measure_number="1.3")
    assert can(scoped, Action.SUBMIT, partnership=STOCKTON, theme_code="R", measure_number="5.1")
    assert not can(scoped, Action.SUBMIT, partnership=STOCKTON, theme_code="R", measure_number="5.2")
    assert can(scoped, Action.EDIT, partnership=STOCKTON, theme_code="H")
    # A plan-level change names no measure: outside any scope.
    assert not can(scoped, Action.EDIT, partnership=STOCKTON)
    # Reads are partnership-wide.
    assert can(scoped, Action.READ_CURRENT, partnership=STOCKTON, theme_code="R")


def test_scope_refusal_says_what_was_out_of_scope() -> None:
    scoped = person(Role.SUBMITTER, measures=frozenset({"5.1"}))
    with pytest.raises(GraphQLError) as e:
        require(scoped, Action.SUBMIT, partnership=STOCKTON, theme_code="R", measure_number="5.2")
    assert e.value.extensions == {"code": "FORBIDDEN"}
    assert "measure '5.2' of theme 'R' is outside the scope" in e.value.message
    assert "themes: any; measures: 5.1" in e.value.message


def test_an_empty_scope_allows_no_writes() -> None:
    nothing = person(Role.SUBMITTER, themes=frozenset())
    assert not can(nothing, Action.SUBMIT, partnership=STOCKTON, theme_code="H", measure_number="1.3")


def test_an_all_partnership_principal_acts_everywhere() -> None:
    operator = operator_principal("ops")
    for partnership in (STOCKTON, "Hartlepool Partnership", None):
        assert all(can(operator, a, partnership=partnership) for a in Action)


def test_cross_partnership_actions_need_an_all_partnership_principal() -> None:
    assert not can(person(Role.ADMIN), Action.ADMIN, partnership=None)
    national = Principal("auditor@nao", None, frozenset({Role.AUDITOR}), kind="jwt")
    assert can(national, Action.READ_AUDIT, partnership=None)
    assert not can(national, Action.SUBMIT, partnership=STOCKTON, measure_number="1.3")


def test_public_principal_reads_current_state_only() -> None:
    public = public_principal()
    assert public.kind == "public" and public.partnership is None
    assert can(public, Action.READ_CURRENT, partnership="Any Partnership")
    for action in (Action.READ_AUDIT, Action.SUBMIT, Action.EDIT, Action.ADMIN):
        assert not can(public, action, partnership="Any Partnership", measure_number="1.3")
        with pytest.raises(GraphQLError) as e:
            require(public, action, partnership="Any Partnership", measure_number="1.3")
        # No credentials were presented: authenticating is the remedy, not asking for a role.
        assert e.value.extensions["code"] == "UNAUTHENTICATED"
        assert e.value.extensions["requiredRole"] == REQUIRED_ROLE[action].value


def test_partnership_filter_limits_listings() -> None:
    viewer = person(Role.VIEWER)
    assert partnership_filter(viewer, None) == STOCKTON
    assert partnership_filter(viewer, STOCKTON) == STOCKTON
    with pytest.raises(GraphQLError) as e:
        partnership_filter(viewer, "Hartlepool Partnership")
    assert e.value.extensions["code"] == "FORBIDDEN"
    assert partnership_filter(public_principal(), None) is None
    assert partnership_filter(public_principal(), "X") == "X"
    with pytest.raises(GraphQLError):
        partnership_filter(None, None)


def test_roles_parse_by_name() -> None:
    assert parse_roles(["Viewer", " admin ", Role.EDITOR]) == {Role.VIEWER, Role.ADMIN, Role.EDITOR}
    with pytest.raises(ValueError, match="unknown role 'owner'"):
        parse_roles(["owner"])


def test_principal_is_immutable_and_hashable() -> None:
    p = Principal("a", "P", {Role.VIEWER}, themes={"H"})  # type: ignore[arg-type]
    assert p.roles == frozenset({Role.VIEWER}) and p.themes == frozenset({"H"})
    assert hash(p) == hash(Principal("a", "P", frozenset({Role.VIEWER}), themes=frozenset({"H"})))


def test_the_command_line_gives_a_token_the_approver_role() -> None:
    from service.cli import parser

    args = parser().parse_args(["token", "create", "lead@stockton.gov.uk", "--role", "approver", "--role", "auditor"])

    assert parse_roles(args.role) == {Role.APPROVER, Role.AUDITOR}
