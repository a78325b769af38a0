"""The webhook dispatcher's settings (read from the environment by service/settings.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

from projections.stall import DEFAULT_STALL_SECONDS
from service.webhooks.safety import AllowedHosts

DAY = 86_400.0


@dataclass(frozen=True)
class WebhookSettings:
    """How deliveries are made, retried and given up on."""

    # Hosts (names, addresses or networks) that may be called over http and may resolve to private addresses.
    allowed: AllowedHosts = field(default_factory=AllowedHosts)
    # A receiver has this long to answer, connecting included; then the attempt failed.
    timeout_seconds: float = 10.0
    # The most of a response's body read; a longer one is cut off and its connection closed.
    max_response_bytes: int = 64 << 10
    # Retries wait about base × 2^(failures−1), at most `retry_max_seconds`, with jitter (service/webhooks/backoff.py).
    retry_base_seconds: float = 5.0
    retry_max_seconds: float = 3600.0
    # A webhook failing this long is paused, with the reason for its admin.
    give_up_seconds: float = DAY
    # Attempts kept in the delivery log.
    log_days: float = 30.0
    # Messages read from the outbox at a time, per webhook.
    batch: int = 100
    # How often the leader looks at the registry and the outbox without being told (NOTIFY does it sooner).
    poll_seconds: float = 5.0
    # How often a process on standby tries the leader's lock; how long a leader may stand still before it is replaced.
    retry_seconds: float = 2.0
    stall_seconds: float = DEFAULT_STALL_SECONDS
    # Whether this process may lead the deliveries (ML_RUN_DELIVERIES).
    run: bool = True
