"""DataLoaders, made anew for every request and every moment it reads, so a
dashboard is a fixed number of round trips whatever the number of measures."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from uuid import UUID

import asyncpg
from strawberry.dataloader import DataLoader

from service import read_model

Row = asyncpg.Record
Fetch = Callable[[Sequence[UUID]], Awaitable[list[Row]]]


def _one(fetch: Fetch, key: str = "id") -> DataLoader[UUID, Row | None]:
    async def load(ids: Sequence[UUID]) -> list[Row | None]:
        found = {r[key]: r for r in await fetch(ids)}
        return [found.get(i) for i in ids]

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
    """Loaders of the read model as it was at position `at` (None: now)."""

    pool: asyncpg.Pool
    at: int | None = None
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
        pool, at = self.pool, self.at

        def of(table: str) -> Fetch:
            return lambda ids: read_model.rows(pool, table, ids, at)

        self.plan = _one(of("plans"))
        self.measure = _one(lambda ids: read_model.measures_by_id(pool, ids, at))
        self.themes = _many(of("themes"), "plan_id")
        self.measures = _many(of("measures"), "plan_id")
        self.components = _many(of("components"), "measure_id")
        self.baselines = _many(of("baselines"), "measure_id")
        self.figures = _many(of("figures"), "measure_id")
        self.quarters = _many(of("quarter_results"), "measure_id")
        self.history = _many(lambda ids: read_model.history_by_measure(pool, ids, at), "measure_id")


@dataclass
class LoaderSets:
    """One set of loaders per moment a request reads at."""

    pool: asyncpg.Pool
    sets: dict[int | None, Loaders] = field(default_factory=dict)

    def at(self, position: int | None) -> Loaders:
        if position not in self.sets:
            self.sets[position] = Loaders(self.pool, position)
        return self.sets[position]
