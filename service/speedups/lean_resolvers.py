"""Resolvers without arguments called directly, not through strawberry's general-purpose wrapper.

For every field with a resolver, strawberry installs a wrapper that converts the
field's arguments into Python values, runs the field's extensions (permission
classes and the like) around it, and sorts out which of self/root/parent/info the
function wants. For a field with no arguments and no extensions none of that
does anything but cost ten calls a field, and a dashboard resolves such fields
(a measure's components and quarters, a component's figures and baseline, a
quarter's components) hundreds of times a request.

`lighten` replaces those wrappers in the built GraphQL schema with one that
calls the function with the same arguments strawberry would give it: the object,
and the same `Info`. An async function's coroutine is returned for graphql-core
to await, as strawberry's wrapper would have awaited it. Fields with arguments
or extensions, subscriptions, and any schema with exception handlers keep
strawberry's wrapper.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import strawberry
from graphql import GraphQLObjectType, GraphQLResolveInfo
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField


def _direct(field: StrawberryField, info_class: type) -> Callable[..., Any] | None:
    resolver = field.base_resolver
    if resolver is None or field.extensions or field.arguments or field.is_subscription:
        return None
    func = resolver.wrapped_func
    if not callable(func):
        return None
    wants_self = resolver.self_parameter is not None
    as_source = [p.name for p in (resolver.root_parameter, resolver.parent_parameter) if p is not None]
    info_name = resolver.info_parameter.name if resolver.info_parameter is not None else None
    if as_source or not wants_self or info_name is None:
        return None  # rarer shapes: leave them to strawberry

    if info_name == "info":
        # The common shape, without building a keyword dictionary per call.
        def resolve(source: Any, info: GraphQLResolveInfo[Any], **_: Any) -> Any:
            return func(source, info=info_class(_raw_info=info, _field=field))

    else:

        def resolve(source: Any, info: GraphQLResolveInfo[Any], **_: Any) -> Any:
            return func(source, **{info_name: info_class(_raw_info=info, _field=field)})

    return resolve


def lighten(schema: strawberry.Schema) -> int:
    """Call argument-less, extension-less resolvers directly (see the module's doc); returns how many."""
    if getattr(schema.schema_converter, "_exception_handler_specs", None):
        return 0  # exception handlers are applied by strawberry's wrapper
    info_class = schema.config.info_class
    subscription = schema._schema.subscription_type
    count = 0
    for graphql_type in schema._schema.type_map.values():
        if not isinstance(graphql_type, GraphQLObjectType) or graphql_type.name.startswith("__"):
            continue
        if graphql_type is subscription:
            continue
        for field_def in graphql_type.fields.values():
            definition = (field_def.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
            if not isinstance(definition, StrawberryField) or field_def.args:
                continue
            direct = _direct(definition, info_class)
            if direct is not None:
                field_def.resolve = direct
                count += 1
    return count
