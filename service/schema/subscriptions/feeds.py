"""This process's feeds as GraphQL streams: each row becomes one object for all its subscribers, and a
subscriber that falls behind or fails gets a coded error."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator
from contextlib import aclosing, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Live:
    """A stream's feed and where it starts, for a caller that delivers its rows itself (`lean_streams`)."""

    name: str
    feed: Feed
    after: Key | None
    filters: Filters
    cursor: Callable[[Key], str]

    def __aiter__(self) -> AsyncIterator[Any]:
        return deliver(self.name, self.feed, self.after, self.filters, self.cursor)


# Set while service/speedups/live_delivery.py resolves a subscription: the resolver then hands back its feed.
_LEAN: ContextVar[bool] = ContextVar("lean_streams", default=False)


@contextmanager
def lean_streams() -> Iterator[None]:
    """Subscription resolvers called within return a `Live` instead of a running stream."""
    token = _LEAN.set(True)
    try:
        yield
    finally:
        _LEAN.reset(token)


def stream(
    name: str, feed: Feed, after: Key | None, filters: Filters, cursor: Callable[[Key], str]
) -> AsyncIterator[Any]:
    """What a subscription resolver returns: the feed's objects, or (within `lean_streams`) a `Live`."""
    if _LEAN.get():
        return Live(name, feed, after, filters, cursor)
    return deliver(name, feed, after, filters, cursor)


def fell_behind(name: str, e: FellBehind, cursor: Callable[[Key], str]) -> GraphQLError:
    """The error a subscriber that fell behind is closed with: where to resume, if anything was delivered."""
    resume = {"cursor": cursor(e.last)} if e.last != (0, "") else {}
    return error(
        "LIMIT_EXCEEDED",
        f"{name}: this subscriber fell behind by more than {e.capacity} messages and was closed; "
        "subscribe again with `after` set to the cursor of the last message you processed",
        **resume,
    )


def failed(name: str) -> GraphQLError:
    """A stream's unexpected failure, logged: over WebSocket nothing masks errors for us (service/http.py does it
    for HTTP)."""
    log.exception("%s subscription failed", name)
    return error("INTERNAL", "Internal server error")


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
        raise fell_behind(name, e, cursor) from None
    except GraphQLError:
        raise
    except Exception:
        raise failed(name) from None
