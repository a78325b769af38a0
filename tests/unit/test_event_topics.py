"""Stored events name their classes by topic (module and qualified name): each topic still resolves.

Moving or renaming an event class breaks every ledger that stored it unless the
old topic is registered (`eventsourcing.utils.register_topic`); this list says
which topics stored ledgers hold.
"""

from __future__ import annotations

import pytest
from eventsourcing.domain import CanMutateAggregate
from eventsourcing.utils import get_topic, resolve_topic

from domain.idempotency import IdempotencyKey
from domain.measure import Measure
from domain.plan import Plan

STORED_TOPICS = [
    "domain.plan:Plan.PlanCreated",
    "domain.plan:Plan.ThemeAdded",
    "domain.measure:Measure.MeasureDefined",
    "domain.measure:Measure.MeasureRedefined",
    "domain.measure:Measure.BaselineSet",
    "domain.measure:Measure.BaselineReset",
    "domain.measure:Measure.FigureSubmitted",
    "domain.measure:Measure.FigureRevised",
    "domain.measure:Measure.FigureMarkedUnavailable",
    "domain.measure:Measure.CommentaryUpdated",
    "domain.measure:Measure.StatusOverridden",
    "domain.measure:Measure.StatusOverrideCleared",
    "domain.plan:Plan.CollectionOpened",
    "domain.plan:Plan.CollectionDueDateChanged",
    "domain.plan:Plan.QuarterPublished",
    "domain.measure:Measure.OwnerAssigned",
    "domain.measure:Measure.ReturnSubmitted",
    "domain.measure:Measure.ReturnApproved",
    "domain.measure:Measure.ReturnSentBack",
    "domain.measure:Measure.ReturnReopened",
    "domain.idempotency:IdempotencyKey.KeyUsed",
]


@pytest.mark.parametrize("topic", STORED_TOPICS)
def test_every_stored_topic_resolves_to_an_event_class_of_its_aggregate(topic: str) -> None:
    event_class = resolve_topic(topic)

    assert issubclass(event_class, CanMutateAggregate)
    assert event_class.__qualname__.split(".")[0] in {"Plan", "Measure", "IdempotencyKey"}


def test_every_event_class_is_stored_under_a_listed_topic() -> None:
    recorded = {
        get_topic(v)
        for aggregate in (Plan, Measure, IdempotencyKey)
        for name, v in vars(aggregate).items()
        if isinstance(v, type) and issubclass(v, CanMutateAggregate) and name not in {"Event", "Created"}
    }

    assert recorded == set(STORED_TOPICS)
