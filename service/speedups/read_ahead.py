"""Read-ahead: measures get, before graphql-core walks them, what the query asks of them below.

A resolver that returns measures (`Plan.measures`, `Theme.measures`,
`Query.measure`) is wrapped: once it has its measures, the rows the query will
ask of each of them (components, quarters, baselines, figures) are loaded for
all of them at once, the rows the DataLoaders would have batched anyway, one
query per table. From them each measure gets its components and quarters
ready-made, each component its baseline and figures, each quarter its
components (`keep_ready`), worked out by the types' own methods that their
resolvers use, so they are exactly what those resolvers would answer.
graphql-core then completes the whole tree as plain values (fast_fields.py)
instead of calling hundreds of small resolvers, a dashboard's largest cost. A
field whose rows failed to load is left to its resolver, which reports the
error where it would have without reading ahead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar
from uuid import UUID

import strawberry
from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLObjectType,
    GraphQLResolveInfo,
    InlineFragmentNode,
    SelectionSetNode,
    get_named_type,
)
from strawberry.dataloader import DataLoader
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

from service.schema.figures.types import Figure
from service.schema.loaders import Row
from service.schema.measures.types import Component, Measure, QuarterResult
from service.speedups.completers import keep_ready, mark_ready

K = TypeVar("K")
T = TypeVar("T")
Resolve = Callable[..., Any]

# The fields read-ahead answers, by type: GraphQL name -> Python name.
ANSWERED: dict[type, dict[str, str]] = {
    Measure: {"components": "components", "quarters": "quarters"},
    Component: {"baseline": "baseline", "baselineHistory": "baseline_history", "figures": "figures"},
    QuarterResult: {"components": "components"},
}


def install_read_ahead(schema: strawberry.Schema) -> int:
    """Wrap every resolver that returns measures, and mark the fields read-ahead answers; returns how many wrapped."""
    wrapped = 0
    for graphql_type in schema._schema.type_map.values():
        if not isinstance(graphql_type, GraphQLObjectType) or graphql_type.name.startswith("__"):
            continue
        origin = getattr(_definition(graphql_type), "origin", None)
        for name in ANSWERED.get(origin, {}) if isinstance(origin, type) else ():
            mark_ready(graphql_type.fields[name])
        for field_def in graphql_type.fields.values():
            field = _definition(field_def)
            named = get_named_type(field_def.type)
            returns_measures = getattr(_definition(named), "origin", None) is Measure
            if returns_measures and isinstance(field, StrawberryField) and field.base_resolver is not None:
                assert field_def.resolve is not None
                field_def.resolve = _reading_ahead(field_def.resolve)
                wrapped += 1
    return wrapped


def _definition(graphql_thing: Any) -> Any:
    return (getattr(graphql_thing, "extensions", None) or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)


def _reading_ahead(resolve: Resolve) -> Resolve:
    def resolve_and_read_ahead(source: Any, info: GraphQLResolveInfo, **args: Any) -> Any:
        found = resolve(source, info, **args)

        async def ahead() -> Any:
            measures = await found if info.is_awaitable(found) else found
            await read_ahead(info, [measures] if isinstance(measures, Measure) else measures or [])
            return measures

        return ahead()

    return resolve_and_read_ahead


async def read_ahead(info: GraphQLResolveInfo, measures: list[Measure]) -> None:
    """Give these measures (read at one moment) the answers the query will ask of them below (see the module)."""
    components, quarters = selects(info, "components"), selects(info, "quarters")
    baseline = components and selects(info, "components", "baseline")
    history = components and selects(info, "components", "baselineHistory")
    figures = components and selects(info, "components", "figures")
    by_quarter = quarters and selects(info, "quarters", "components")
    if not measures:
        return
    at = measures[0].at
    loaders = info.context.loaders.at(at)
    wanted = []
    if components or by_quarter:
        wanted.append(loaders.components)
    if baseline or history:
        wanted.append(loaders.baselines)
    if figures or by_quarter:
        wanted.append(loaders.figures)
    if quarters:
        wanted.append(loaders.quarters)
    if not wanted:
        return
    ids = [UUID(str(m.id)) for m in measures]
    await asyncio.gather(*(loader.load(i) for loader in wanted for i in ids), return_exceptions=True)
    # A figure appears under its component and under its quarter: one object for both (nothing changes it).
    built: dict[int, Figure] = {}

    def figure(row: Row) -> Figure:
        found = built.get(id(row))  # the rows live in the loader for the whole request
        if found is None:
            found = built[id(row)] = Figure.from_row(row, at)
        return found

    for measure, measure_id in zip(measures, ids, strict=True):
        component_rows = loaded(loaders.components, measure_id) if components or by_quarter else None
        figure_rows = loaded(loaders.figures, measure_id) if figures or by_quarter else None
        if components and component_rows is not None:
            baseline_rows = loaded(loaders.baselines, measure_id) if baseline or history else None
            measure_components = measure.components_of(component_rows)
            keep_ready(measure, "components", measure_components)
            for component in measure_components:
                if baseline_rows is not None:
                    if baseline:
                        keep_ready(component, "baseline", component.latest_baseline(baseline_rows))
                    if history:
                        keep_ready(component, "baseline_history", component.baselines(baseline_rows))
                if figures and figure_rows is not None:
                    keep_ready(component, "figures", component.own_figures(figure_rows, figure))
        quarter_rows = loaded(loaders.quarters, measure_id) if quarters else None
        if quarter_rows is not None:
            measure_quarters = measure.quarters_of(quarter_rows)
            keep_ready(measure, "quarters", measure_quarters)
            if by_quarter and component_rows is not None and figure_rows is not None:
                for quarter in measure_quarters:
                    keep_ready(quarter, "components", quarter.results(component_rows, figure_rows, figure))


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


def selects(info: GraphQLResolveInfo, *path: str) -> bool:
    """Whether the query may ask, below this field, for the fields along `path` (GraphQL names).

    Fragments and inline fragments are followed; @include/@skip are not evaluated and type
    conditions are ignored, so the answer errs towards yes: it only decides what to read ahead.
    """
    fragments: dict[str, Any] = info.fragments
    level: Iterable[FieldNode] = info.field_nodes
    for name in path:
        level = [f for node in level for f in _fields(node.selection_set, fragments, set()) if f.name.value == name]
        if not level:
            return False
    return True


def loaded(loader: DataLoader[K, T], key: K) -> T | None:
    """What a DataLoader has already loaded for `key`; None if it has not, or failed to."""
    future = loader.load(key)  # the cached future, for a key loaded before
    if isinstance(future, asyncio.Future) and future.done() and not future.cancelled() and future.exception() is None:
        found: T = future.result()
        return found
    return None
