"""Reading what a write changed, for its payload: a write that is recorded is always answered as recorded.

Once the ledger has committed a write, its answer carries its `position` and `version` whatever happens
next. If what it changed cannot be read for the payload (the read model has not shown it within
ML_WRITE_WAIT_SECONDS, or the database failed the read), the payload's object is null and the error at its path
has code `COMMITTED`, with the position: the client reads it again later, and never sends the write again,
which without an idempotency key would record the change twice.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import strawberry
from graphql import GraphQLError
from strawberry.types import Info

from domain.ledger import Written
from service.schema.errors import error

log = logging.getLogger(__name__)
T = TypeVar("T")
P = TypeVar("P", bound="WritePayload")

UNREAD = (
    "Null only when the write is recorded but this could not be read after it: the error at this path has code "
    "COMMITTED and the write's position. Read it again; do not send the write again."
)


@strawberry.type
class WritePayload:
    """What every write's payload says of the write; `row` is what it changed as read after it, if it could be."""

    position: int | None = strawberry.field(description="The event's position in the ledger.")
    version: int = strawberry.field(
        description="The changed object's version after the write (pass it as `expectedVersion` next time)."
    )
    replayed: bool = strawberry.field(description="True when an idempotency key returned an earlier result.")
    row: strawberry.Private[Any] = None
    unread: strawberry.Private[GraphQLError | None] = None

    def shown(self, build: Callable[[Any], T]) -> T | None:
        """A payload field's object built from what was read, or its COMMITTED error raised at the field's path."""
        row = shown(self.row, self.unread)
        return None if row is None else build(row)


async def payload_after(
    info: Info, w: Written, payload: type[P], what: str, read: Callable[[int | None], Awaitable[Any]]
) -> P:
    """A recorded write's payload: its position, and what `read` (given that position) finds after it, or the
    COMMITTED error saying why that is missing; never an error without the write's position."""
    # Known unless an idempotent retry recorded nothing: then looked up.
    position = w.position if w.position is not None else await position_after(lambda: info.context.position_of(w))
    row, unread = await read_after(what, position, w.version, lambda: read(position))
    return payload(row=row, unread=unread, position=position, version=w.version, replayed=w.replayed)


def committed(what: str, position: int | None, version: int, why: str) -> GraphQLError:
    """The error of a payload whose write is recorded but whose `what` could not be read."""
    where = f"at position {position}" if position is not None else "in the ledger"
    return error(
        "COMMITTED",
        f"the write is recorded {where} (version {version}), but the {what} {why}: "
        f"read the {what} again shortly, and do not send the write again",
        position=position,
        version=version,
    )


async def read_after(
    what: str, position: int | None, version: int, read: Callable[[], Awaitable[T | None]]
) -> tuple[T | None, GraphQLError | None]:
    """What `read` finds after a recorded write, or None and the COMMITTED error saying why it is missing."""
    try:
        found = await read()
    except Exception:
        log.exception("a recorded write's %s could not be read for its payload", what)
        return None, committed(what, position, version, "could not be read after it")
    if found is None:
        return None, committed(what, position, version, "is not in the read model yet")
    return found, None


def shown(found: T | None, unread: GraphQLError | None) -> T | None:
    """A payload field's value: what was read, or its COMMITTED error raised at the field's path."""
    if unread is not None:
        raise unread
    return found


async def position_after(position_of: Callable[[], Awaitable[int | None]]) -> int | None:
    """A recorded write's position, for its payload; None if it had to be looked up and the look-up failed."""
    try:
        return await position_of()
    except Exception:
        log.exception("a recorded write's position could not be looked up for its payload")
        return None
