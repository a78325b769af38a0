"""What a query asks for below a field, so a resolver can read ahead what its children will need."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Any, TypeVar

from graphql import FieldNode, FragmentSpreadNode, InlineFragmentNode, SelectionSetNode
from strawberry.dataloader import DataLoader
from strawberry.types import Info

R = TypeVar("R")
K = TypeVar("K")
T = TypeVar("T")


def _fields(selection_set: SelectionSetNode | None, fragments: dict[str, Any], seen: set[str]) -> Iterator[FieldNode]:
    for selection in selection_set.selections if selection_set else ():
        if isinstance(selection, FieldNode):
            yield selection
        elif isinstance(selection, InlineFragmentNode):
            yield from _fields(selection.selection_set, fragments, seen)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            if name not in seen and name in fragments:
                seen.add(name)  # validation refuses cycles; this guards the walk anyway
                yield from _fields(fragments[name].selection_set, fragments, seen)


def selects(info: Info, *path: str) -> bool:
    """Whether the query may ask, below this field, for the fields along `path` (GraphQL names).

    Fragments and inline fragments are followed; @include/@skip are not evaluated and type
    conditions are ignored, so the answer errs towards yes: it only decides what to read ahead.
    """
    raw = info._raw_info
    fragments: dict[str, Any] = raw.fragments
    level: Iterable[FieldNode] = raw.field_nodes
    for name in path:
        level = [f for node in level for f in _fields(node.selection_set, fragments, set()) if f.name.value == name]
        if not level:
            return False
    return True


def now_or_later(then: Callable[..., R], *loads: Awaitable[Any]) -> R | Awaitable[R]:
    """`then` of DataLoaders' results: at once if they are already loaded, else an awaitable of it.

    A resolver that returns its value at once costs graphql-core no await, no task and no gather;
    Plan.measures reads ahead for the whole plan, so below it every list is already loaded.
    """
    if all(isinstance(f, asyncio.Future) and f.done() for f in loads):
        return then(*(f.result() for f in loads))  # type: ignore[attr-defined]

    async def later() -> R:
        return then(*[await f for f in loads])

    return later()


def loaded(loader: DataLoader[K, T], key: K) -> T | None:
    """What a DataLoader has already loaded for `key`; None if it has not, or failed to."""
    future = loader.load(key)  # the cached future, for a key loaded before
    if isinstance(future, asyncio.Future) and future.done() and not future.cancelled() and future.exception() is None:
        found: T = future.result()
        return found
    return None
