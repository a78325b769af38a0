"""Standard Webhooks signatures (the `standardwebhooks` package): secrets, and the headers of a message.

Each attempt is signed afresh, with its own `webhook-timestamp` (receivers refuse one more than five
minutes old), under the same `webhook-id`. While a rotated-out secret is still in its overlap, the
message carries a signature under each secret, space-separated, as the format allows: a receiver
holding either secret verifies it.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache

from standardwebhooks.webhooks import Webhook

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32


def new_secret() -> str:
    """A new signing secret, `whsec_` and 32 random bytes in base64, as Standard Webhooks writes them."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


@lru_cache(maxsize=1024)
def _signer(secret: str) -> Webhook:
    # Decoding a secret on every message is wasted work: a webhook signs thousands with the same one.
    return Webhook(secret)


def headers(message_id: str, timestamp: datetime, body: bytes, signing: Sequence[str]) -> dict[str, str]:
    """The headers of one attempt: its id, its time and a signature under each of `signing`."""
    signatures = " ".join(_signer(secret).sign(message_id, timestamp, body) for secret in signing)
    return {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": signatures,
    }
