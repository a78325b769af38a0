"""Which ledger position a report shows, and the hash-chain link that proves it.

A report always reads the read model at one fixed position, even for the current
state, so that every number on the page belongs to the position and the digest it
prints. That position is a chained one: the last position the hash chain covers at
or before the one asked for (now: the read model's; `asOf`: the last recorded by
then). The chain follows the store within moments: a report waits up to
`CHAIN_WAIT_SECONDS` for it to reach the position asked for, then shows the last
chained one, whose digest it prints. A publication of the quarterly cycle fixes its
own position, which the projection links before it records the publication: its
page prints the publication's own digest (`Publication.digest`).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, replace
from datetime import date, datetime
from enum import StrEnum
from uuid import UUID

import asyncpg

from projections.ledger_store.chain import Link
from service import audit_trail, read_model

CHAIN_WAIT_SECONDS = 2.0


class Kind(StrEnum):
    CURRENT = "current"
    AS_OF = "as_of"
    PUBLICATION = "publication"


@dataclass(frozen=True)
class Published:
    """A publication of the quarterly cycle, as its page names it."""

    id: UUID
    quarter: str
    title: str
    presented_on: date
    position: int


@dataclass(frozen=True)
class Shown:
    """The moment a report shows: its ledger position, the chain's link there, and how it was chosen."""

    kind: Kind
    link: Link
    asked: datetime | None = None  # the `asOf` moment asked for
    known_at: datetime | None = None  # the recorded time of the last entry up to the position
    publication: Published | None = None  # the publication shown, for Kind.PUBLICATION

    @property
    def position(self) -> int:
        return self.link.position

    @property
    def digest(self) -> str:
        """`POSITION:HASH`, as `measure-ledger verify --digest` takes it."""
        return self.link.hex()


async def current(pool: asyncpg.Pool, application_name: str) -> Shown:
    """The read model as it is now, at its last chained position."""
    projected = await read_model.projected_position(pool, application_name)
    return await _at(pool, Kind.CURRENT, projected, None)


async def as_of(pool: asyncpg.Pool, moment: datetime) -> Shown:
    """What the ledger showed at `moment` (time zone required)."""
    return await _at(pool, Kind.AS_OF, await read_model.position_at(pool, moment), moment)


async def published(pool: asyncpg.Pool, publication: Published) -> Shown:
    """What a publication showed: the read model at the position it fixes."""
    shown = await _at(pool, Kind.PUBLICATION, publication.position, None)
    return replace(shown, publication=publication)


async def _at(pool: asyncpg.Pool, kind: Kind, position: int, asked: datetime | None) -> Shown:
    deadline = time.monotonic() + CHAIN_WAIT_SECONDS
    link = await audit_trail.chain_link_at(pool, position)
    while link.position < position and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        link = await audit_trail.chain_link_at(pool, position)
    known = await read_model.known_at(pool, link.position) if link.position else None
    return Shown(kind, link, asked, known)
