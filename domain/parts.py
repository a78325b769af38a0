"""The base of a part of an aggregate kept in a module of its own and mixed into the aggregate's class.

To the type checker a part is the aggregate, so its methods may trigger events and read state; at run
time it is a plain class, so the aggregate's own class alone brings in `Aggregate`. The aggregate names
the part's events itself, so that their topics are its own (domain/measure.py, domain/plan.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from eventsourcing.domain import Aggregate

if TYPE_CHECKING:
    AggregatePart = Aggregate
else:
    AggregatePart = object
