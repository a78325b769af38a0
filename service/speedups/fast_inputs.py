"""Mutation inputs built without strawberry's general-purpose conversion.

For every argument strawberry converts an input value field by field: it
resolves each field's annotation, converts its GraphQL name, and walks
Optional and enum wrappers down to a leaf, all again on every request: a visible
share of a submitFigure's CPU (py-spy, bench/profile_submit.py).

Our mutation inputs are mostly leaves (scalars, enums, optional ones, lists of
them), whose GraphQL value strawberry hands over unchanged (lists copied). So
each input type gets a builder, through strawberry's own `from_input` hook,
that does exactly that from a field table made once, and hands any other field
(a list of inputs, say) to strawberry's conversion, as before. The result is
the same object strawberry would build: the class called with every field that
has no default set to None, then the fields the client sent.

The hook belongs to the input class, which every schema built in the process
shares; a schema these speed-ups were not installed on gets strawberry's
conversion of every field, exactly as without the hook.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping
from dataclasses import MISSING
from typing import Any

import strawberry
from graphql import GraphQLInputObjectType
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.arguments import InputContext, _is_leaf_type, _is_optional_leaf_type
from strawberry.types.base import StrawberryList, StrawberryObjectDefinition, StrawberryOptional

Build = Callable[[type, Mapping[str, Any], InputContext], Any]
LEAF, LEAF_LIST, OTHER = 0, 1, 2
# id(config) -> the config of a schema with fast inputs (configs are unhashable; the reference tells a reused id).
_FAST: dict[int, weakref.ref[StrawberryConfig]] = {}


def _fast_in(config: StrawberryConfig) -> bool:
    found = _FAST.get(id(config))
    return found is not None and found() is config


def _kind(type_: Any, scalar_registry: Mapping[object, Any]) -> int:
    if isinstance(type_, StrawberryOptional):
        type_ = type_.of_type
    if _is_leaf_type(type_, scalar_registry):
        return LEAF
    if hasattr(type_, "__strawberry_definition__") and _is_leaf_type(type_.__strawberry_definition__, scalar_registry):
        return LEAF  # an enum class: strawberry converts it through its definition, a leaf
    if isinstance(type_, StrawberryList) and (
        _is_leaf_type(type_.of_type, scalar_registry) or _is_optional_leaf_type(type_.of_type, scalar_registry)
    ):
        return LEAF_LIST
    return OTHER


def builder(definition: StrawberryObjectDefinition) -> Build:
    """A `from_input` for an input type (see the module's doc); its field table is made at the first call."""
    table: list[tuple[str, str, int, Any]] | None = None
    nones = {
        f.python_name: None for f in definition.fields if f.default_value is MISSING and f.default_factory is MISSING
    }

    def build(cls: type, value: Mapping[str, Any], ctx: InputContext) -> Any:
        nonlocal table
        if table is None:
            # The scalar registry and naming come with the first call, from the schema that uses the type.
            table = []
            for f in definition.fields:
                type_ = f.resolve_type(type_definition=definition)
                name = ctx.config.name_converter.from_field(f)
                table.append((name, f.python_name, _kind(type_, ctx.scalar_registry), type_))
        kwargs: dict[str, Any] = dict(nones)
        fast = _fast_in(ctx.config)
        for name, python_name, kind, type_ in table:
            if name not in value:
                continue
            given = value[name]
            if not fast:
                kwargs[python_name] = ctx.convert(given, type_, name)  # strawberry's own conversion
            elif kind == LEAF or given is None:
                kwargs[python_name] = given
            elif kind == LEAF_LIST:
                # Copied, as strawberry does: graphql-core may hand every request the same default list.
                kwargs[python_name] = list(given)
            else:
                kwargs[python_name] = ctx.convert(given, type_, name)
        return cls(**kwargs)

    return build


def speed_up_inputs(schema: strawberry.Schema) -> int:
    """Build the schema's input types with the builder above; returns how many input types it has."""
    if len(_FAST) > 256:  # schemas built and dropped (tests): forget the dead ones
        for key in [k for k, config in _FAST.items() if config() is None]:
            del _FAST[key]
    _FAST[id(schema.config)] = weakref.ref(schema.config)
    count = 0
    for graphql_type in schema._schema.type_map.values():
        if not isinstance(graphql_type, GraphQLInputObjectType):
            continue
        definition = (graphql_type.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
        if not isinstance(definition, StrawberryObjectDefinition):
            continue
        count += 1
        if getattr(definition.from_input, "fast_input", False):
            continue  # given by a schema built earlier: the types are shared
        assert definition.from_input is None, f"{graphql_type.name} builds its own value already"
        build: Any = builder(definition)
        build.fast_input = True
        definition.from_input = build
    return count
