"""The event reader of catch-ups and the live projection: pages of stored events, straight to domain events.

The same events as `recorder.select_notifications` then `mapper.to_domain_event`, for less CPU:
those built a `Notification` and a dict row for every event, and decoded its state with the
standard library's json and a Python `object_hook` call for every JSON object in it. Here rows
come as tuples, orjson parses the state, and a walk over the parsed values turns the
transcoder's `{"_type_": ..., "_data_": ...}` objects into values with the transcoder's own
registered transcodings. That halved the reading thread's CPU per event (35 to 18 µs in a national
rebuild on a busy machine; 17.8 to 8.4 µs reading alone), CPU that the projecting thread shares
through the GIL.

Anything this module does not decode exactly as the mapper would (a cipher or compressor, another
transcoder, JSON orjson refuses such as NaN or huge integers) goes through the mapper instead.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from datetime import datetime
from decimal import Decimal
from typing import Any, cast
from uuid import UUID

import orjson
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    InterfaceError,
    JSONTranscoder,
    Mapper,
    OperationalError,
    StoredEvent,
    UUIDAsHex,
    find_id_convertor,
    pass_through_convertor,
)
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.utils import resolve_topic, retry
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Identifier, Literal

Page = list[tuple[int, Any]]


def share_of(originator_id: UUID, count: int) -> int:
    """Which of `count` shares an aggregate's events are read in (as the reader's SQL filter says)."""
    return originator_id.bytes[15] % count


# The library's own transcodings, by class, as the C functions their `decode` methods call.
_FAST: dict[type, Callable[[Any], Any]] = {
    DatetimeAsISO: datetime.fromisoformat,
    DecimalAsStr: Decimal,
    UUIDAsHex: UUID,
}


def _fast(recorder: Any, mapper: Mapper[Any]) -> bool:
    """Whether this module decodes the store's events exactly as the mapper would."""
    return (
        isinstance(recorder, PostgresApplicationRecorder)
        and type(mapper) is Mapper
        and type(mapper.transcoder) is JSONTranscoder
        and mapper.cipher is None
        and mapper.compressor is None
    )


def can_share(recorder: Any, mapper: Mapper[Any]) -> bool:
    """Whether a reader of this store can read a share of it: the fast path, and uuid IDs to filter on."""
    return _fast(recorder, mapper) and recorder.datastore.originator_id_type == "uuid"


class EventReader:
    """Pages of (position, domain event) from one application's recorder and mapper.

    With a `share` (index, count), only the events of that share of the aggregates: those whose
    ID's last byte is `index` modulo `count` (projections/rebuild.py splits a rebuild so). The
    server filters, so a share's process decodes only its own events.
    """

    def __init__(self, recorder: Any, mapper: Mapper[Any], share: tuple[int, int] | None = None) -> None:
        self.recorder = recorder
        self.mapper = mapper
        transcoder = mapper.transcoder
        self.fast = _fast(recorder, mapper)
        self.share = share
        if share is not None and not can_share(recorder, mapper):
            raise ValueError("only a PostgreSQL store of UUID-keyed events decoded by the fast path can be shared")
        self.transcoder = cast(JSONTranscoder, transcoder)
        self.decoders: dict[str, Callable[[Any], Any]] = {}
        if self.fast:
            for name, transcoding in self.transcoder.names.items():
                self.decoders[name] = _FAST.get(type(transcoding), transcoding.decode)
            # A share's filter is on the uuid's bytes: no text made of it, and the same in Python (share_of).
            self.statement = SQL(
                "SELECT notification_id, originator_id, originator_version, topic, state FROM {}.{}"
                " WHERE notification_id >= %s AND notification_id <= %s{} ORDER BY notification_id LIMIT %s"
            ).format(
                Identifier(recorder.datastore.schema),
                Identifier(recorder.events_table_name),
                SQL("")
                if share is None
                else SQL(" AND mod(get_byte(uuid_send(originator_id), 15), {}) = {}").format(
                    Literal(share[1]), Literal(share[0])
                ),
            )
        # (topic, originator ID type) -> the event class, its ID convertor (None: as it is) and its class version.
        self.classes: dict[tuple[str, type], tuple[type, Callable[[Any], Any] | None, int]] = {}

    def page(self, first: int, last: int, limit: int) -> Page:
        """Up to `limit` events from position `first` to `last`, in order."""
        if not self.fast:
            notifications = self.recorder.select_notifications(start=first, limit=limit, stop=last)
            return [(n.id, self.mapper.to_domain_event(n)) for n in notifications]
        return [(row[0], self.event(*row[1:])) for row in self._rows(first, last, limit)]

    # As the library's select_notifications: connection errors are retried.
    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def _rows(self, first: int, last: int, limit: int) -> list[tuple[Any, ...]]:
        # Binary: bytea text is hex, which took more parsing than the rest of the row.
        with self.recorder.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row, binary=True) as curs:
            curs.execute(self.statement, (first, last, limit), prepare=True)
            rows: list[tuple[Any, ...]] = curs.fetchall()
            return rows

    def event(self, originator_id: Any, version: int, topic: str, state: bytes) -> Any:
        """The domain event of a stored event's fields, as `Mapper.to_domain_event` makes it."""
        try:
            event_state = self._walk(orjson.loads(state))
        except Exception:
            # Whatever the fast path refuses (JSON orjson does not take, a transcoding not registered, a
            # value a transcoding rejects), the mapper decodes or reports exactly as it always has.
            return self.mapper.to_domain_event(StoredEvent(originator_id, version, topic, bytes(state)))
        try:
            cls, convert, class_version = self.classes[(topic, type(originator_id))]
        except KeyError:
            cls = resolve_topic(topic)
            convert = find_id_convertor(cls, cast(Hashable, type(originator_id)))
            if convert is pass_through_convertor:
                convert = None
            class_version = getattr(cls, "class_version", 1)
            self.classes[(topic, type(originator_id))] = (cls, convert, class_version)
        event_state["originator_id"] = originator_id if convert is None else convert(originator_id)
        event_state["originator_version"] = version
        from_version = event_state.pop("class_version", 1)
        while from_version < class_version:
            getattr(cls, f"upcast_v{from_version}_v{from_version + 1}")(event_state)
            from_version += 1
        domain_event: Any = object.__new__(cls)
        object.__setattr__(domain_event, "__dict__", event_state)
        return domain_event

    def _walk(self, obj: dict[str, Any]) -> Any:
        """`obj` with every transcoded object in it decoded, innermost first, as json's object_hook sees them.

        Raises KeyError for a transcoding name that is not registered (the caller then asks the mapper).
        """
        decoders = self.decoders
        for key, item in obj.items():
            kind = type(item)
            if kind is dict:
                # Most are a transcoded scalar (a timestamp, a decimal): decoded here, without a call.
                if len(item) == 2 and "_type_" in item and "_data_" in item:
                    data = item["_data_"]
                    if type(data) is not dict and type(data) is not list:
                        # Replacing a key's value, not adding keys: safe while iterating.
                        obj[key] = decoders[item["_type_"]](data)
                        continue
                obj[key] = self._walk(item)
            elif kind is list:
                obj[key] = self._list(item)
        if len(obj) == 2 and "_type_" in obj and "_data_" in obj:
            return decoders[obj["_type_"]](obj["_data_"])
        return obj

    def _list(self, items: list[Any]) -> list[Any]:
        return [
            self._walk(item) if type(item) is dict else self._list(item) if type(item) is list else item
            for item in items
        ]
