"""DataLoaders, made anew for every request and every moment it reads, so a
dashboard is a fixed number of round trips whatever the number of measures."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
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


Read = Callable[[asyncpg.Pool, Sequence[Any], int | None], Awaitable[list[Row]]]


def _loader(read: str | Read, key: str = "id", many: bool = False) -> Any:
    """A loader of a set, made the first time it is asked for: of each key's row, or of its rows (`many`), keyed
    by `key`, read at the set's position from the read model's table of that name, or by `read`."""

    def make(self: Loaders) -> DataLoader[Any, Any]:
        pool, at = self.pool, self.at
        if isinstance(read, str):
            fetch: Fetch = lambda ids: read_model.rows(pool, read, ids, at)  # noqa: E731
        else:
            fetch = lambda ids: read(pool, ids, at)  # noqa: E731
        return _many(fetch, key) if many else _one(fetch, key)

    return cached_property(make)


def _links(pool: asyncpg.Pool, positions: Sequence[Any], at: int | None) -> Awaitable[list[Row]]:
    return cycle_reads.links(pool, positions)  # the hash chain's links are the same at every position


class Loaders:
    """Loaders of the read model as it was at position `at` (None: now).

    Each loader is made the first time it is asked for: a request uses a few of the fifteen (a write's payload
    two or three), and every request makes at least one set.
    """

    def __init__(self, pool: asyncpg.Pool, at: int | None = None) -> None:
        self.pool, self.at = pool, at

    plan: DataLoader[UUID, Row | None] = _loader("plans")
    measure: DataLoader[UUID, Row | None] = _loader(read_model.measures_by_id)
    themes: DataLoader[UUID, list[Row]] = _loader("themes", "plan_id", many=True)
    measures: DataLoader[UUID, list[Row]] = _loader("measures", "plan_id", many=True)
    components: DataLoader[UUID, list[Row]] = _loader("components", "measure_id", many=True)
    baselines: DataLoader[UUID, list[Row]] = _loader("baselines", "measure_id", many=True)
    figures: DataLoader[UUID, list[Row]] = _loader("figures", "measure_id", many=True)
    quarters: DataLoader[UUID, list[Row]] = _loader("quarter_results", "measure_id", many=True)
    history: DataLoader[UUID, list[Row]] = _loader(read_model.history_by_measure, "measure_id", many=True)
    owner: DataLoader[UUID, Row | None] = _loader("owners", "measure_id")
    returns: DataLoader[UUID, list[Row]] = _loader("returns", "measure_id", many=True)
    collections: DataLoader[UUID, list[Row]] = _loader("collections", "plan_id", many=True)
    publications: DataLoader[UUID, list[Row]] = _loader("publications", "plan_id", many=True)
    links: DataLoader[int, Row | None] = _loader(_links, "position")

    @cached_property
    def revised(self) -> DataLoader[UUID, frozenset[tuple[str, str]]]:
        return _revised(self.pool, self.measure, self.publications, self.figures)


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
