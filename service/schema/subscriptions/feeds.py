"""This process's feeds as GraphQL streams: each row becomes one object for all its subscribers, and a
subscriber that falls behind or fails gets a coded error."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from typing import Any

import asyncpg
from graphql import GraphQLError

from service.fanout import Feed, Feeds, FellBehind, Filters, Key
from service.schema.audit.types import AuditEntry
from service.schema.errors import error
from service.schema.subscriptions.types import StatusChange

log = logging.getLogger(__name__)


def open_feeds(pool: asyncpg.Pool, capacity: int) -> Feeds:
    """This process's feeds, delivering each row as one StatusChange or AuditEntry to all its subscribers."""
    return Feeds.open(pool, capacity, StatusChange.from_row, AuditEntry.from_row)


async def deliver(
    name: str, feed: Feed, after: Key | None, filters: Filters, cursor: Callable[[Key], str]
) -> AsyncGenerator[Any, None]:
    """The feed's objects; falling behind and failures become coded errors."""
    try:
        async with aclosing(feed.stream(after, filters)) as payloads:
            async for payload in payloads:
                yield payload
    except FellBehind as e:
        # Where to resume: every matching message up to it has been sent, and the socket keeps order.
        resume = {"cursor": cursor(e.last)} if e.last != (0, "") else {}
        raise error(
            "LIMIT_EXCEEDED",
            f"{name}: this subscriber fell behind by more than {e.capacity} messages and was closed; "
            "subscribe again with `after` set to the cursor of the last message you processed",
            **resume,
        ) from None
    except GraphQLError:
        raise
    except Exception:
        # Over WebSocket nothing masks errors for us (service/http.py does it for HTTP).
        log.exception("%s subscription failed", name)
        raise error("INTERNAL", "Internal server error") from None
