"""DataLoaders, made anew for every request and every moment it reads, so a
dashboard is a fixed number of round trips whatever the number of measures."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from uuid import UUID

import asyncpg
from strawberry.dataloader import DataLoader

from service import cycle_reads, read_model

Row = asyncpg.Record
K = TypeVar("K")
Fetch = Callable[[Sequence[Any]], Awaitable[list[Row]]]


def _one(fetch: Fetch, key: str = "id") -> DataLoader[K, Row | None]:
    async def load(ids: Sequence[K]) -> list[Row | None]:
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
    owner: DataLoader[UUID, Row | None] = field(init=False)
    returns: DataLoader[UUID, list[Row]] = field(init=False)
    collections: DataLoader[UUID, list[Row]] = field(init=False)
    publications: DataLoader[UUID, list[Row]] = field(init=False)
    links: DataLoader[int, Row | None] = field(init=False)
    revised: DataLoader[UUID, frozenset[tuple[str, str]]] = field(init=False)

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
        self.owner = _one(of("owners"), "measure_id")
        self.returns = _many(of("returns"), "measure_id")
        self.collections = _many(of("collections"), "plan_id")
        self.publications = _many(of("publications"), "plan_id")
        self.links = _one(lambda positions: cycle_reads.links(pool, positions), "position")
        self.revised = _revised(pool, self.measure, self.publications, self.figures)


def _revised(
    pool: asyncpg.Pool,
    measure: DataLoader[UUID, Row | None],
    publications: DataLoader[UUID, list[Row]],
    figures: DataLoader[UUID, list[Row]],
) -> DataLoader[UUID, frozenset[tuple[str, str]]]:
    """Each measure's (component, quarter) figures changed since the latest publication showing them.

    Made of the other loaders, not of the set holding them, so that no reference cycle keeps a request's
    rows alive after it (tests/e2e/test_http.py).
    """

    async def load(measure_ids: Sequence[UUID]) -> list[frozenset[tuple[str, str]]]:
        measures = [m for m in await measure.load_many(measure_ids) if m is not None]
        plan_of = {m["id"]: m["plan_id"] for m in measures}
        plans = sorted(set(plan_of.values()))
        published = dict(zip(plans, await publications.load_many(plans), strict=True))
        rows = [f for found in await figures.load_many(list(plan_of)) for f in found]
        revised = await cycle_reads.revised_after_publication(pool, rows, published, plan_of)
        return [frozenset((c, q) for m, c, q in revised if m == measure_id) for measure_id in measure_ids]

    return DataLoader(load_fn=load)


@dataclass
class LoaderSets:
    """One set of loaders per moment a request reads at."""

    pool: asyncpg.Pool
    sets: dict[int | None, Loaders] = field(default_factory=dict)

    def at(self, position: int | None) -> Loaders:
        if position not in self.sets:
            self.sets[position] = Loaders(self.pool, position)
        return self.sets[position]
