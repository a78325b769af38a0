"""Standard Webhooks signatures, a rotated secret's overlap, and the retry schedule."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from service.webhooks import signing
from service.webhooks.backoff import retry_delay
from service.webhooks.kinds import EventKind
from service.webhooks.outbox import Hook, message_id


def a_hook(secret: str, previous: str | None = None, until: datetime | None = None, replays: int = 0) -> Hook:
    return Hook(
        id=uuid.UUID(int=7),
        partnership="SSP",
        url="https://hooks.example.org/in",
        kinds=frozenset({EventKind.STATUS_CHANGED}),
        plan_id=None,
        measure_id=None,
        secret=secret,
        previous_secret=previous,
        previous_secret_until=until,
        paused=False,
        paused_reason=None,
        cursor=(0, ""),
        replays=replays,
        failures=0,
        failing_since=None,
        next_attempt_at=None,
        revision=0,
    )


def test_a_message_verifies_with_the_reference_library_under_its_secret_only() -> None:
    secret, other = signing.new_secret(), signing.new_secret()
    body, now = b'{"type":"status.changed"}', datetime.now(UTC)

    headers = signing.headers("msg_1", now, body, (secret,))

    assert Webhook(secret).verify(body, headers) == {"type": "status.changed"}
    with pytest.raises(WebhookVerificationError):
        Webhook(other).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body + b" ", headers)


def test_during_a_rotations_overlap_both_secrets_sign_and_after_it_only_the_new_one() -> None:
    old, new = signing.new_secret(), signing.new_secret()
    now = datetime.now(UTC)
    hook = a_hook(new, previous=old, until=now + timedelta(hours=1))
    body = b"{}"

    during = signing.headers("msg_1", now, body, hook.signing(now))
    after = signing.headers("msg_1", now, body, hook.signing(now + timedelta(hours=2)))

    assert len(during["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(body, during)
    Webhook(new).verify(body, during)
    Webhook(new).verify(body, after)
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(body, after)


def test_a_messages_id_is_the_same_on_every_attempt_and_new_after_a_replay() -> None:
    hook = a_hook(signing.new_secret())

    assert message_id(hook, (42, "Q2")) == message_id(hook, (42, "Q2")) == f"msg_{hook.id.hex}_42_Q2"
    assert message_id(hook, (42, "")) != message_id(hook, (42, "Q2"))
    assert message_id(a_hook(hook.secret, replays=1), (42, "Q2")) == f"msg_{hook.id.hex}_42_Q2_r1"


def test_retries_back_off_exponentially_with_jitter_up_to_the_cap() -> None:
    lowest = [retry_delay(n, 5.0, 3600.0, rand=lambda: 0.0) for n in range(1, 12)]
    highest = [retry_delay(n, 5.0, 3600.0, rand=lambda: 1.0) for n in range(1, 12)]

    assert highest[:4] == [5.0, 10.0, 20.0, 40.0]
    assert lowest[:4] == [2.5, 5.0, 10.0, 20.0]
    assert highest[-1] == 3600.0 and lowest[-1] == 1800.0


def test_a_day_of_failures_is_about_forty_attempts() -> None:
    waited, attempts = 0.0, 0
    while waited < 86_400:
        attempts += 1
        waited += retry_delay(attempts, 5.0, 3600.0, rand=lambda: 0.5)
    assert 30 <= attempts <= 45
