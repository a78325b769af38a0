"""A measure's returns: the lock they hold, who may approve them, and what each refusal says."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest

from domain.commands import PublishQuarter
from domain.errors import DomainError, ForbiddenError, LockedError, ValidationError
from domain.ledger import Ledger
from domain.measure import Measure
from domain.publishing import PublicationFacts
from domain.returns import ReturnState
from domain.values import Quarter, Status
from tests.unit.test_measure import count, define

Q1, Q2 = Quarter.Q1, Quarter.Q2
OWNER = "analyst@cleveland-police.example"
LEAD = "performance.lead@stockton.example"


def refused(call: Callable[[], object], error: type[DomainError]) -> DomainError:
    with pytest.raises(error) as caught:
        call()
    return caught.value


def reported() -> Measure:
    """5.1 with its Q1 figure, owned by the police analyst."""
    m = define(components=[("all", "All criminal damage"), ("repeat", "Repeat victims")])
    m.set_baseline("all", count(2472), actor=OWNER)
    m.assign_owner(OWNER, "Cleveland Police", actor=LEAD)
    m.submit_figure("all", Q1, count(492), actor=OWNER)
    return m


CHANGES: dict[str, Callable[[Measure], object]] = {
    "submitFigure": lambda m: m.submit_figure("repeat", Q1, count(3), actor=OWNER),
    "reviseFigure": lambda m: m.revise_figure("all", Q1, count(493), reason="late crimes", actor=OWNER),
    "markFigureUnavailable": lambda m: m.mark_figure_unavailable("repeat", Q1, reason="no data", actor=OWNER),
    "updateCommentary": lambda m: m.update_commentary(Q1, "Down on last year", actor=OWNER),
    "overrideStatus": lambda m: m.override_status(Q1, Status.AT_RISK, reason="mixed picture", actor=LEAD),
}


@pytest.mark.parametrize("change", CHANGES)
def test_an_approved_quarter_refuses_every_change_naming_the_approver_and_how_to_reopen(change: str) -> None:
    m = reported()
    m.submit_return(Q1, actor=OWNER)
    m.approve_return(Q1, actor=LEAD)
    version = m.version

    error = refused(lambda: CHANGES[change](m), LockedError)

    assert error.code == "LOCKED" and error.field == "quarter"
    assert f"approved by {LEAD}" in error.message and "reopenReturn" in error.message
    assert m.version == version


def test_a_submitted_quarter_is_locked_until_an_approver_sends_it_back() -> None:
    m = reported()
    m.submit_return(Q1, actor=OWNER)

    error = refused(lambda: CHANGES["reviseFigure"](m), LockedError)
    assert f"submitted by {OWNER}" in error.message and "sendBackReturn" in error.message

    m.send_back_return(Q1, reason="check the repeat victims", actor=LEAD)
    CHANGES["reviseFigure"](m)
    m.submit_return(Q1, actor=OWNER)
    assert m.return_state(Q1) is ReturnState.SUBMITTED


def test_other_quarters_stay_open_while_one_is_locked() -> None:
    m = reported()
    m.submit_return(Q1, actor=OWNER)
    m.approve_return(Q1, actor=LEAD)

    m.submit_figure("all", Q2, count(995), actor=OWNER)
    m.update_commentary(Q2, "A 20% reduction", actor=OWNER)

    assert m.figures[("all", Q2)].amount == count(995)


def test_whoever_submitted_a_return_may_not_approve_it() -> None:
    m = reported()
    m.submit_return(Q1, actor=LEAD)

    error = refused(lambda: m.approve_return(Q1, actor=LEAD), ForbiddenError)

    assert error.code == "FORBIDDEN" and LEAD in error.message
    assert m.return_state(Q1) is ReturnState.SUBMITTED


def test_approving_a_return_never_submitted_is_refused_saying_so() -> None:
    m = reported()

    error = refused(lambda: m.approve_return(Q1, actor=LEAD), ValidationError)

    assert error.field == "quarter" and "never submitted" in error.message
    assert m.return_state(Q1) is ReturnState.OUTSTANDING


def test_a_return_is_reopened_only_when_approved_and_with_a_reason() -> None:
    m = reported()
    m.submit_return(Q1, actor=OWNER)
    refused(lambda: m.reopen_return(Q1, reason="correction", actor=LEAD), ValidationError)
    m.approve_return(Q1, actor=LEAD)

    assert refused(lambda: m.reopen_return(Q1, reason="  ", actor=LEAD), ValidationError).field == "reason"
    m.reopen_return(Q1, reason="late crimes recorded", actor=LEAD)
    CHANGES["reviseFigure"](m)

    assert m.return_state(Q1) is ReturnState.REOPENED


def test_a_submission_records_the_components_that_have_no_figure() -> None:
    m = reported()

    m.submit_return(Q1, actor=OWNER)

    assert m.returns[Q1].missing == ("repeat",)
    refused(lambda: m.submit_return(Q1, actor=OWNER), ValidationError)


def test_a_change_of_owner_needs_a_reason() -> None:
    m = reported()

    assert refused(lambda: m.assign_owner("new@x.example", "Council", actor=LEAD), ValidationError).field == "reason"
    refused(lambda: m.assign_owner(OWNER, "Cleveland Police", reason="again", actor=LEAD), ValidationError)
    m.assign_owner("new@x.example", "Council", reason="moved teams", actor=LEAD)

    assert m.owner is not None and m.owner.principal == "new@x.example"
    assert [o.principal for o in m.owners] == [OWNER, "new@x.example"]


def test_the_cycle_replays_from_the_store_to_the_same_state() -> None:
    app = Ledger(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    m = reported()
    m.submit_return(Q1, actor=OWNER)
    m.approve_return(Q1, actor=LEAD)
    app.save(m)

    loaded: Measure = app.repository.get(m.id)

    assert loaded.returns == m.returns and loaded.owners == m.owners
    with pytest.raises(LockedError):
        loaded.update_commentary(Q1, "after approval", actor=OWNER)


def test_an_idempotent_retry_of_a_publication_matches_however_its_gathered_facts_moved() -> None:
    plan_id = define().plan_id
    first = PublishQuarter(plan_id, Q1, "Board", date(2012, 9, 25), PublicationFacts(5))
    later = PublishQuarter(plan_id, Q1, "Board", date(2012, 9, 25), PublicationFacts(9, last_change=9))
    other = PublishQuarter(plan_id, Q2, "Board", date(2012, 9, 25), PublicationFacts(5))

    assert first.fingerprint() == later.fingerprint()
    assert first.fingerprint() != other.fingerprint()
