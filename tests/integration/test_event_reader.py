"""The catch-up's event reader makes exactly the domain events the library's recorder and mapper make."""

from __future__ import annotations

import json
from typing import Any
from uuid import uuid4

from eventsourcing.domain import DomainEvent
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic

from bench.generate import Size, generate
from domain.ledger import Ledger
from domain.measure import Measure
from projections.event_reader import EventReader


class Labelled(DomainEvent):
    """An event at version 3 of its shape: v1 had `name`, v2 renamed it `label`, v3 added `shouting`."""

    label: str
    shouting: bool
    class_version = 3

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["label"] = state.pop("name")

    @staticmethod
    def upcast_v2_v3(state: dict[str, Any]) -> None:
        state["shouting"] = state["label"].isupper()


def same(ours: Any, theirs: Any) -> bool:
    """The same class and the same state, value for value and type for type (Decimal("1") is not Decimal("1.0"))."""
    return type(ours) is type(theirs) and repr(ours.__dict__) == repr(theirs.__dict__)


def test_pages_are_the_events_the_mapper_makes(ledger: Ledger) -> None:
    generate(ledger, Size(2, 6, 1), progress=False)
    reader = EventReader(ledger.recorder, ledger.mapper)
    assert reader.fast
    last = ledger.recorder.max_notification_id() or 0
    first, seen = 1, 0
    while first <= last:
        page = reader.page(first, last, 97)
        notifications = ledger.recorder.select_notifications(start=first, limit=97, stop=last)
        assert [position for position, _ in page] == [n.id for n in notifications]
        for (_, event), notification in zip(page, notifications, strict=True):
            assert same(event, ledger.mapper.to_domain_event(notification))
        seen += len(page)
        first = page[-1][0] + 1
    assert seen == last


def test_nested_values_and_what_orjson_refuses_decode_as_the_mapper_decodes_them(ledger: Ledger) -> None:
    reader = EventReader(ledger.recorder, ledger.mapper)
    topic = "domain.measure:Measure.BaselineSet"
    decimal = {"_type_": "decimal_str", "_data_": "1.50"}
    states: list[dict[str, Any]] = [
        # A list of transcoded values, a nested object, and a two-key object that is not a transcoded one.
        {"timestamp": {"_type_": "datetime_iso", "_data_": "2026-11-27T08:53:15.495627+00:00"}, "profile": [decimal]},
        {"note": {"key": "c1", "label": {"deep": [decimal, [decimal]]}}, "value": decimal},
        # JSON the standard library reads and orjson does not: NaN, and an integer wider than 64 bits.
        {"value": float("nan"), "seq": 2**70},
    ]
    for state in states:
        stored = StoredEvent(uuid4(), 3, topic, json.dumps(state).encode())
        ours = reader.event(stored.originator_id, stored.originator_version, stored.topic, stored.state)
        assert isinstance(ours, Measure.BaselineSet)
        assert repr(ours.__dict__) == repr(ledger.mapper.to_domain_event(stored).__dict__)


def test_an_event_stored_in_an_older_shape_is_upcast_as_the_mapper_upcasts_it(ledger: Ledger) -> None:
    reader = EventReader(ledger.recorder, ledger.mapper)
    timestamp = {"_type_": "datetime_iso", "_data_": "2013-05-01T09:00:00+00:00"}
    shapes = [{"timestamp": timestamp, "name": "ASB"}, {"timestamp": timestamp, "label": "asb", "class_version": 2}]
    for state in shapes:
        stored = StoredEvent(uuid4(), 1, get_topic(Labelled), json.dumps(state).encode())
        ours = reader.event(stored.originator_id, stored.originator_version, stored.topic, stored.state)
        assert isinstance(ours, Labelled) and same(ours, ledger.mapper.to_domain_event(stored))
        expected = ("ASB", True) if "name" in state else ("asb", False)
        assert (ours.label, ours.shouting) == expected
