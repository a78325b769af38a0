"""Opaque cursors of the streams: where a message sits in its stream.

A status change's cursor is the base64 of "position:quarter" (several
quarters may change at one position); a ledger event's is the base64 of its
position. Clients must treat both as opaque strings. Subscriptions, paged
queries and webhook deliveries all give out these same cursors, so a client
can move between them without a gap.
"""

from __future__ import annotations

import base64
import binascii

from domain.values import Quarter
from service.fanout import Key

_QUARTERS = {q.value for q in Quarter}


class MalformedCursor(ValueError):
    """A cursor this service never gave out, passed as `field`."""

    def __init__(self, raw: str, field: str) -> None:
        super().__init__(f"{field}: {raw[:60]!r} is not a cursor of this list or subscription")
        self.field = field


def _encode(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode(raw: str, field: str) -> str:
    try:
        return base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode("ascii")
    except (binascii.Error, ValueError):
        raise MalformedCursor(raw, field) from None


def _position(text: str, raw: str, field: str) -> int:
    # isdigit() alone accepts "²"; the text is ASCII by now.
    if not text.isdigit() or len(text) > 19:
        raise MalformedCursor(raw, field)
    return int(text)


def status_change_cursor(key: Key) -> str:
    """The cursor of the status change at (position, quarter)."""
    return _encode(f"{key[0]}:{key[1]}")


def ledger_event_cursor(key: Key) -> str:
    """The cursor of the ledger event at a position."""
    return _encode(str(key[0]))


def decode_status_change_cursor(raw: str, field: str = "after") -> Key:
    """(position, quarter) from a status change's cursor."""
    position, sep, quarter = _decode(raw, field).partition(":")
    if not sep or quarter not in _QUARTERS:
        raise MalformedCursor(raw, field)
    return (_position(position, raw, field), quarter)


def decode_ledger_event_cursor(raw: str, field: str = "after") -> Key:
    """(position, "") from a ledger event's cursor."""
    return (_position(_decode(raw, field), raw, field), "")
