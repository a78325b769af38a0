"""Tamper evidence: a SHA-256 hash chain over the stored events, in position order.

    link(0) = 32 zero bytes
    link(P) = sha256(link(P') || row(P))       P' the previous stored position
    row(P)  = notification_id (8 bytes, big-endian) || originator_id (16 bytes)
              || originator_version (8 bytes, big-endian)
              || length of topic (4 bytes, big-endian) || topic (UTF-8)
              || length of state (4 bytes, big-endian) || state

Each link is written once, soon after its event is stored, by the projection
leader: the raw row is read in the same transaction that writes the link and
the chain's own tracking row, so each position is linked exactly once.
`rebuild` never touches the chain: recomputing it from the store would
launder whatever had been changed there. `verify` (projections/ledger_store/verify.py)
recomputes it from the store and compares; a published head (`auditDigest`)
catches a store rewritten together with its chain.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Mapping
from typing import Any, NamedTuple
from uuid import UUID

from eventsourcing.persistence import InfrastructureFactory, IntegrityError, Tracking
from eventsourcing.postgres import PostgresTrackingRecorder
from eventsourcing.utils import Environment
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Composed, Identifier

from domain.ledger import Ledger
from projections.ledger_store.event_store import make_append_only

NAME = "event_chain"
TABLE = "event_chain"
EVENTS = f"{Ledger.name}_events"
GENESIS = bytes(32)
BATCH = 1000

ROW_COLUMNS = "notification_id, originator_id, originator_version, topic, state"


class Link(NamedTuple):
    position: int
    hash: bytes

    def hex(self) -> str:
        """`POSITION:HASH`, the form `verify --digest` takes."""
        return f"{self.position}:{self.hash.hex()}"


def row_bytes(notification_id: int, originator_id: UUID, originator_version: int, topic: str, state: bytes) -> bytes:
    """The bytes of a stored row that its link covers, each field length-delimited."""
    topic_bytes = topic.encode()
    return b"".join(
        (
            struct.pack(">q", notification_id),
            originator_id.bytes,
            struct.pack(">q", originator_version),
            struct.pack(">I", len(topic_bytes)),
            topic_bytes,
            struct.pack(">I", len(state)),
            state,
        )
    )


def next_link(previous: bytes, row: Mapping[str, Any]) -> bytes:
    """The link of a stored row (a mapping of ROW_COLUMNS), given the previous link."""
    covered = row_bytes(
        row["notification_id"], row["originator_id"], row["originator_version"], row["topic"], bytes(row["state"])
    )
    return link_after(previous, covered)


def link_after(previous: bytes, covered: bytes) -> bytes:
    """The link of a stored row, given the previous link and the row's bytes (`row_bytes`)."""
    return hashlib.sha256(previous + covered).digest()


class ChainView(PostgresTrackingRecorder):
    """The chain's table, and the tracking row that says how far it goes."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sql_create_statements.append(
            Composed([SQL(f"CREATE TABLE IF NOT EXISTS {TABLE} (position bigint PRIMARY KEY, hash bytea NOT NULL)")])
        )

    def create_table(self) -> None:
        super().create_table()
        # Links are only ever added.
        make_append_only(self.datastore, TABLE)

    def extend(self, tracking: Tracking) -> int:
        """Link every stored row after the head up to `tracking`'s position, exactly once; returns how many."""
        with self.datastore.transaction(commit=True) as curs:
            # Refused for a position already reached: a replay changes nothing.
            self._insert_tracking(curs, tracking)
            head = curs.execute(f"SELECT position, hash FROM {TABLE} ORDER BY position DESC LIMIT 1").fetchone()  # noqa: S608
            previous = Link(head["position"], bytes(head["hash"])) if head else Link(0, GENESIS)
            # Binary tuples in ROW_COLUMNS' order: the state as bytes, without a dict or hex text a row.
            with curs.connection.cursor(row_factory=tuple_row, binary=True) as reading:
                rows = reading.execute(
                    SQL(
                        "SELECT {} FROM {} WHERE notification_id > %s AND notification_id <= %s"
                        " ORDER BY notification_id"
                    ).format(SQL(ROW_COLUMNS), Identifier(EVENTS)),
                    (previous.position, tracking.notification_id),
                ).fetchall()
            link = previous.hash
            if rows:
                # One binary COPY: an INSERT a link, even pipelined, cost several times the hashing in psycopg.
                with curs.copy(f"COPY {TABLE} (position, hash) FROM STDIN (FORMAT BINARY)") as copy:
                    copy.set_types(["bigint", "bytea"])
                    for row in rows:
                        link = link_after(link, row_bytes(*row))
                        copy.write_row((row[0], link))
        return len(rows)

    def head(self) -> Link:
        """The last link: what to publish. Position 0 and the genesis hash before any event."""
        with self.datastore.transaction(commit=False) as curs:
            row = curs.execute(f"SELECT position, hash FROM {TABLE} ORDER BY position DESC LIMIT 1").fetchone()  # noqa: S608
        return Link(row["position"], bytes(row["hash"])) if row else Link(0, GENESIS)

    def position(self, application_name: str) -> int:
        return self.max_tracking_id(application_name) or 0


def open_chain(env: Mapping[str, str]) -> ChainView:
    """The chain's recorder, its tables created if missing."""
    factory = InfrastructureFactory[ChainView].construct(env=Environment(NAME, dict(env)))
    return factory.tracking_recorder(ChainView)


def catch_up_chain(ledger: Ledger, view: ChainView) -> int:
    """Link every stored event after the chain's position, a batch per transaction; returns how many."""
    last = ledger.recorder.max_notification_id() or 0
    position = view.position(ledger.name)
    done = 0
    while position < last:
        # Ids up to the log's maximum are all committed (they become visible in commit
        # order), so a batch may end on a gap without skipping a row later.
        upto = min(position + BATCH, last)
        done += view.extend(Tracking(ledger.name, upto))
        position = upto
    return done


def link_through(ledger: Ledger, view: ChainView, position: int, attempts: int = 10) -> None:
    """Make sure the chain has linked `position`, linking what it lacks; another process may be linking too.

    A publication carries the link at the position it fixes (domain/publishing.py): its row is written only
    once that link exists, so a publication is never read without its digest, nor cached so.
    """
    for _ in range(attempts):
        if view.position(ledger.name) >= position:
            return
        try:
            catch_up_chain(ledger, view)
        except IntegrityError:
            continue  # another process linked a batch first; its links are committed
    raise RuntimeError(f"the hash chain did not reach position {position}")
