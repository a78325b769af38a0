"""Idempotency keys stored before commands were classes still answer a retry of their request."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from domain import commands
from domain.errors import ValidationError
from domain.idempotency import IdempotencyKey
from domain.ledger import Ledger, Request, Written
from domain.values import parse_amount
from tests.integration.given import OFFICER
from tests.unit.test_commands import STORED


def recorded_by_the_last_release(ledger: Ledger) -> dict[str, Written]:
    """Every use case, each with its key under the fingerprint the last release stored for it."""
    firsts: dict[str, Written] = {}
    for command, fingerprint in STORED:
        written = ledger.handle(command, OFFICER)
        used = IdempotencyKey.use(
            actor=OFFICER.actor,
            key=command.name,
            fingerprint=fingerprint,
            target_id=written.id,
            target_version=written.version,
        )
        ledger.save(used)
        firsts[command.name] = written
    return firsts


def test_every_request_retried_after_an_upgrade_returns_its_first_result_and_records_nothing(ledger: Ledger) -> None:
    firsts = recorded_by_the_last_release(ledger)
    before = ledger.recorder.max_notification_id()

    retries = {c.name: ledger.handle(c, Request(OFFICER.actor, idempotency_key=c.name)) for c, _ in STORED}

    for name, retry in retries.items():
        assert (retry.replayed, retry.id, retry.version) == (True, firsts[name].id, firsts[name].version), name
    assert ledger.recorder.max_notification_id() == before


def test_a_different_request_under_a_key_stored_before_the_upgrade_is_refused(ledger: Ledger) -> None:
    recorded_by_the_last_release(ledger)
    before = ledger.recorder.max_notification_id()
    submitted = next(c for c, _ in STORED if isinstance(c, commands.SubmitFigure))
    another_amount = replace(submitted, amount=parse_amount(Decimal("601"), None, None))

    with pytest.raises(ValidationError) as refused:
        ledger.handle(another_amount, Request(OFFICER.actor, idempotency_key=submitted.name))

    assert refused.value.field == "idempotencyKey"
    assert ledger.recorder.max_notification_id() == before
