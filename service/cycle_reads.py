"""Reads of the reporting cycle on the read model: publications, what changed since them, returns, and the
facts a publication is decided on.

Shared by the GraphQL schema (service/schema/cycle/) and anything else that shows a publication (a
rendered report): each function is one or two round trips, reads indexed tables at a position where it
says so, and replays nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg

from domain.ledger import Ledger
from domain.publishing import Outstanding, PublicationFacts
from domain.returns import ReturnState
from domain.values import Quarter
from projections.ledger_store.chain import TABLE as CHAIN
from projections.read_model_tables import VERSION
from projections.view import NAME

Row = asyncpg.Record
PUBLISHED = "QuarterPublished"
# A figure slot: (measure id, component, quarter).
Slot = tuple[UUID, str, str]


async def publication(pool: asyncpg.Pool, publication_id: UUID) -> Row | None:
    """A publication's row; publications are never withdrawn, so the current row is the only one."""
    row: Row | None = await pool.fetchrow(
        "SELECT * FROM publications WHERE id = $1 AND valid_to IS NULL", publication_id
    )
    return row


async def links(pool: asyncpg.Pool, positions: Sequence[int]) -> list[Row]:
    """The hash chain's links at these positions (those linked yet): what `verify --digest` checks."""
    return await pool.fetch(f"SELECT position, hash FROM {CHAIN} WHERE position = ANY($1::bigint[])", list(positions))  # noqa: S608


def digest(position: int, link: bytes | None) -> str | None:
    """`POSITION:HASH` as `measure-ledger verify --digest` takes it; None until the position is linked."""
    return None if link is None else f"{position}:{bytes(link).hex()}"


def covering(publications: Iterable[Row], quarter: str) -> Row | None:
    """The latest of a plan's publications that shows `quarter`: one of that quarter or a later one."""
    shown = [p for p in publications if p["quarter"] >= quarter]
    return max(shown, key=lambda p: (p["valid_from"], p["position"]), default=None)


async def revisions_at(
    pool: asyncpg.Pool, wanted: Sequence[tuple[UUID, int]]
) -> dict[tuple[UUID, int], dict[str, int]]:
    """Each measure's figure revisions at a position: (measure, position) -> {"component/quarter": revision}."""
    if not wanted:
        return {}
    rows = await pool.fetch(
        "SELECT k.measure_id, k.position, f.component, f.quarter, f.revision"
        " FROM unnest($1::uuid[], $2::bigint[]) AS k(measure_id, position)"
        " JOIN figures f ON f.measure_id = k.measure_id AND f.valid_from <= k.position"
        " AND (f.valid_to IS NULL OR f.valid_to > k.position)",
        [m for m, _ in wanted],
        [p for _, p in wanted],
    )
    found: dict[tuple[UUID, int], dict[str, int]] = {key: {} for key in wanted}
    for r in rows:
        found[(r["measure_id"], r["position"])][f"{r['component']}/{r['quarter']}"] = r["revision"]
    return found


async def revised_after_publication(
    pool: asyncpg.Pool,
    figures: Sequence[Row],
    publications_of: Mapping[UUID, Sequence[Row]],
    plan_of: Mapping[UUID, UUID],
) -> set[Slot]:
    """The figures (rows of `figures`, read at one moment) that changed after the latest publication showing them.

    `publications_of` holds each plan's publications read at that same moment, and `plan_of` each
    measure's plan. A figure is revised after publication when the publication showed another revision
    of it, or none at all (it arrived since).
    """
    shown: dict[Slot, int] = {}
    for f in figures:
        pub = covering(publications_of.get(plan_of[f["measure_id"]], ()), f["quarter"])
        if pub is not None:
            shown[(f["measure_id"], f["component"], f["quarter"])] = pub["position"]
    before = await revisions_at(pool, sorted({(m, p) for (m, _, _), p in shown.items()}))
    revised: set[Slot] = set()
    for f in figures:
        slot = (f["measure_id"], f["component"], f["quarter"])
        if slot in shown and before[(slot[0], shown[slot])].get(f"{slot[1]}/{slot[2]}") != f["revision"]:
            revised.add(slot)
    return revised


@dataclass(frozen=True)
class Tracking:
    """A plan's quarter as its returns stand: each measure's return, its components' figures, and the due date."""

    collection: Row | None
    measures: list[Row]  # measures with their owner and their return for the quarter (state NULL: outstanding)
    components: dict[UUID, list[Row]]  # each measure's components, and whether each has a figure (`available`)


async def returns_tracking(pool: asyncpg.Pool, plan_id: UUID, quarter: Quarter) -> Tracking:
    """Every measure of a plan with its owner and its return for `quarter`, in one snapshot."""
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        collection = await conn.fetchrow(
            "SELECT * FROM collections WHERE plan_id = $1 AND quarter = $2 AND valid_to IS NULL", plan_id, quarter
        )
        measures = await conn.fetch(
            "SELECT m.id, m.number, m.title, m.theme_code, o.principal, o.agency, r.state, r.submitted_by,"
            " r.submitted_at, r.missing, r.acted_by, r.acted_at, r.reason"
            " FROM measures m"
            " LEFT JOIN owners o ON o.measure_id = m.id AND o.valid_to IS NULL"
            " LEFT JOIN returns r ON r.measure_id = m.id AND r.quarter = $2 AND r.valid_to IS NULL"
            " WHERE m.plan_id = $1 AND m.valid_to IS NULL ORDER BY m.sort_key",
            plan_id,
            quarter,
        )
        rows = await conn.fetch(
            "SELECT c.measure_id, c.key, c.label, f.available FROM components c"
            " LEFT JOIN figures f ON f.measure_id = c.measure_id AND f.component = c.key AND f.quarter = $2"
            " AND f.valid_to IS NULL"
            " WHERE c.measure_id = ANY($1::uuid[]) AND c.valid_to IS NULL ORDER BY c.measure_id, c.ordinal",
            [m["id"] for m in measures],
            quarter,
        )
    components: dict[UUID, list[Row]] = {}
    for r in rows:
        components.setdefault(r["measure_id"], []).append(r)
    return Tracking(collection, list(measures), components)


async def publication_facts(pool: asyncpg.Pool, plan_id: UUID, quarter: Quarter) -> PublicationFacts | None:
    """What a publication of the plan's quarter is decided on, at the position the read model has reached.

    One snapshot: the read model writes its rows and its position in one transaction, so the returns read
    here are exactly those the publication's position shows. None while the read model is being rebuilt
    in place: its rows are then not yet those of any position.
    """
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        model: Any = await conn.fetchval("SELECT version FROM read_model_meta WHERE name = $1", NAME)
        if model != VERSION:
            return None
        position: Any = await conn.fetchval(
            "SELECT notification_id FROM current_state_tracking WHERE application_name = $1", Ledger.name
        )
        waiting = await conn.fetch(
            "SELECT m.number, coalesce(r.state, $3) AS state FROM measures m"
            " LEFT JOIN returns r ON r.measure_id = m.id AND r.quarter = $2 AND r.valid_to IS NULL"
            " WHERE m.plan_id = $1 AND m.valid_to IS NULL AND r.state IS DISTINCT FROM $4 ORDER BY m.sort_key",
            plan_id,
            quarter,
            ReturnState.OUTSTANDING.value,
            ReturnState.APPROVED.value,
        )
        last_change: Any = await conn.fetchval(
            "SELECT position FROM audit_entries WHERE plan_id = $1 AND action <> $2 ORDER BY position DESC LIMIT 1",
            plan_id,
            PUBLISHED,
        )
    outstanding = tuple(Outstanding(r["number"], r["state"]) for r in waiting)
    return PublicationFacts(int(position or 0), outstanding, int(last_change) if last_change is not None else None)
