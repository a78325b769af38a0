"""Checking the event store against its hash chain, and against a published digest.

The store's rows and the chain's links are both read in position order,
through server-side cursors in one snapshot, so a ledger of millions of
events is checked in constant memory. The first position where they disagree
is reported: a row altered or moved there, a chained row gone, or a row that
was never chained. Rows after the chain's head are counted, not judged: the
projection leader links them within moments of their being stored.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.sql import SQL, Identifier

from projections.ledger_store.chain import EVENTS, GENESIS, ROW_COLUMNS, TABLE, Link, next_link

ITERSIZE = 5000
_DIGEST = re.compile(r"^\s*(\d{1,19})\s*:\s*([0-9a-fA-F]{64})\s*$")


def parse_digest(text: str) -> Link:
    """`POSITION:HASH` (hex) as published from `auditDigest`."""
    m = _DIGEST.match(text)
    if m is None:
        raise ValueError(f"{text[:80]!r} is not POSITION:HASH (a position, a colon, 64 hex digits)")
    return Link(int(m.group(1)), bytes.fromhex(m.group(2)))


@dataclass
class Verdict:
    """What `verify` found."""

    checked: int = 0  # stored rows compared with their links
    head: Link = Link(0, GENESIS)  # the last link compared
    first_bad: int | None = None  # the first position where store and chain disagree
    problem: str | None = None
    unchained: int = 0  # stored rows after the chain's head
    digest: Link | None = None
    digest_ok: bool | None = None  # None: no digest given

    @property
    def ok(self) -> bool:
        return self.first_bad is None and self.digest_ok is not False

    def report(self) -> str:
        """The verdict in a few lines, for people; the first line says whether it failed, and how."""
        lines = []
        chain_ok = f"{self.checked} stored events match the chain up to position {self.head.position}"
        if self.first_bad is not None:
            lines.append(f"TAMPERED at position {self.first_bad}: {self.problem}")
        elif self.digest is not None and not self.digest_ok:
            # The chain alone cannot catch a store rewritten together with it: only the published digest does.
            lines.append(
                f"DIGEST MISMATCH: the store does NOT match the published digest {self.digest.hex()} "
                "(store and chain rewritten together, or a digest of another ledger)"
            )
            lines.append(f"the store agrees with its own chain: {chain_ok}")
        else:
            lines.append(f"OK: {chain_ok}")
            lines.append(f"chain head (publish this): {self.head.hex()}")
        if self.unchained:
            lines.append(f"{self.unchained} events after the chain's head are not linked yet")
        if self.digest is not None and (self.digest_ok or self.first_bad is not None):
            verdict = "matches" if self.digest_ok else "does NOT match"
            lines.append(f"the store {verdict} the published digest {self.digest.hex()}")
        return "\n".join(lines)


def verify(conninfo: str, digest: Link | None = None) -> Verdict:
    """Recompute the chain from the stored events and compare it with the stored chain and `digest`."""
    verdict = Verdict(digest=digest)
    with psycopg.connect(conninfo, row_factory=dict_row) as conn:
        # Both cursors read one snapshot, whatever is appended meanwhile.
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        with conn.cursor(name="store") as store, conn.cursor(name="chain") as chain:
            store.itersize = chain.itersize = ITERSIZE
            store.execute(
                SQL("SELECT {} FROM {} ORDER BY notification_id").format(SQL(ROW_COLUMNS), Identifier(EVENTS))
            )
            chain.execute(SQL("SELECT position, hash FROM {} ORDER BY position").format(Identifier(TABLE)))
            _compare(iter(store), iter(chain), verdict)
        conn.rollback()
    return verdict


def _compare(rows: Iterator[dict[str, Any]], links: Iterator[dict[str, Any]], verdict: Verdict) -> None:
    """Walk both sequences in position order, keeping the link recomputed from the store alone."""
    link = GENESIS
    row, chained = next(rows, None), next(links, None)
    while row is not None or chained is not None:
        if verdict.first_bad is not None and (verdict.digest is None or verdict.digest_ok is not None):
            return
        if chained is None:
            # After the chain's head: not linked yet.
            assert row is not None
            link = _take(verdict, row, link)
            verdict.unchained += 1
            row = next(rows, None)
        elif row is None or row["notification_id"] > chained["position"]:
            _fault(verdict, chained["position"], "the event chained at this position is missing from the store")
            chained = next(links, None)
        elif row["notification_id"] < chained["position"]:
            _fault(verdict, row["notification_id"], "the stored event at this position was never chained (inserted)")
            link = _take(verdict, row, link)
            row = next(rows, None)
        else:
            link = _take(verdict, row, link)
            if link != bytes(chained["hash"]):
                _fault(
                    verdict, row["notification_id"], "the stored event differs from the one chained (altered or moved)"
                )
            elif verdict.first_bad is None:
                verdict.checked += 1
                verdict.head = Link(row["notification_id"], link)
            row, chained = next(rows, None), next(links, None)
    if verdict.digest is not None and verdict.digest_ok is None:
        # The store ended before the digest's position: that event is gone.
        verdict.digest_ok = verdict.digest.position == 0 and verdict.digest.hash == GENESIS


def _take(verdict: Verdict, row: dict[str, Any], link: bytes) -> bytes:
    """The next link of the store's own chain, checked against the digest where it applies."""
    position, following = row["notification_id"], next_link(link, row)
    digest = verdict.digest
    if digest is not None and verdict.digest_ok is None and position >= digest.position:
        if position == digest.position:
            verdict.digest_ok = following == digest.hash
        else:
            # Past it without meeting it: the digest's event is gone (unless it is the empty ledger's).
            verdict.digest_ok = digest.position == 0 and link == digest.hash
    return following


def _fault(verdict: Verdict, position: int, problem: str) -> None:
    if verdict.first_bad is None:
        verdict.first_bad, verdict.problem = position, problem
