"""Cursors passed in as arguments: a malformed one is a VALIDATION error naming the argument."""

from __future__ import annotations

from service import cursors
from service.fanout import Key
from service.schema.errors import error


def parse_status_change_cursor(raw: str, field: str = "after") -> Key:
    """(position, quarter) from a status change's cursor (service/cursors.py)."""
    try:
        return cursors.decode_status_change_cursor(raw, field)
    except cursors.MalformedCursor as e:
        raise error("VALIDATION", str(e), e.field) from None


def parse_ledger_event_cursor(raw: str, field: str = "after") -> Key:
    """(position, "") from a ledger event's cursor (service/cursors.py)."""
    try:
        return cursors.decode_ledger_event_cursor(raw, field)
    except cursors.MalformedCursor as e:
        raise error("VALIDATION", str(e), e.field) from None
