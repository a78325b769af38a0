"""One DataLoader per read, made anew for every request, so a dashboard is a
fixed number of round trips whatever the number of measures."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from uuid import UUID

import asyncpg
from strawberry.dataloader import DataLoader

from service import read

Row = asyncpg.Record
Fetch = Callable[[Sequence[UUID]], Awaitable[list[Row]]]


def _one(fetch: Fetch, key: str = "id") -> DataLoader[UUID, Row | None]:
    async def load(ids: Sequence[UUID]) -> list[Row | None]:
        rows = {r[key]: r for r in await fetch(ids)}
        return [rows.get(i) for i in ids]

    return DataLoader(load_fn=load)


def _many(fetch: Fetch, key: str) -> DataLoader[UUID, list[Row]]:
    async def load(ids: Sequence[UUID]) -> list[list[Row]]:
        grouped: dict[UUID, list[Row]] = defaultdict(list)
        for r in await fetch(ids):
            grouped[r[key]].append(r)
        return [grouped.get(i, []) for i in ids]

    return DataLoader(load_fn=load)


@dataclass
class Loaders:
    pool: asyncpg.Pool
    plan: DataLoader[UUID, Row | None] = field(init=False)
    measure: DataLoader[UUID, Row | None] = field(init=False)
    themes: DataLoader[UUID, list[Row]] = field(init=False)
    measures: DataLoader[UUID, list[Row]] = field(init=False)
    components: DataLoader[UUID, list[Row]] = field(init=False)
    baselines: DataLoader[UUID, list[Row]] = field(init=False)
    figures: DataLoader[UUID, list[Row]] = field(init=False)
    quarters: DataLoader[UUID, list[Row]] = field(init=False)
    history: DataLoader[UUID, list[Row]] = field(init=False)

    def __post_init__(self) -> None:
        pool = self.pool
        self.plan = _one(lambda ids: read.plans_by_id(pool, ids))
        self.measure = _one(lambda ids: read.measures_by_id(pool, ids))
        self.themes = _many(lambda ids: read.themes_by_plan(pool, ids), "plan_id")
        self.measures = _many(lambda ids: read.measures_by_plan(pool, ids), "plan_id")
        self.components = _many(lambda ids: read.by_measure(pool, "components", ids), "measure_id")
        self.baselines = _many(lambda ids: read.by_measure(pool, "baselines", ids), "measure_id")
        self.figures = _many(lambda ids: read.by_measure(pool, "figures", ids), "measure_id")
        self.quarters = _many(lambda ids: read.by_measure(pool, "quarter_results", ids), "measure_id")
        self.history = _many(lambda ids: read.history_by_measure(pool, ids), "measure_id")
