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

import inspect
from collections.abc import Callable
from typing import Any, cast

import strawberry
from graphql import GraphQLObjectType, GraphQLResolveInfo
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

from service.speedups.completers import mark_getter


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


def _getter(field: StrawberryField) -> Callable[[Any], Any] | None:
    """The function of a synchronous resolver that takes the object alone, called with just that."""
    resolver = field.base_resolver
    if resolver is None or field.extensions or field.arguments or field.is_subscription:
        return None
    func = resolver.wrapped_func
    if not callable(func) or inspect.iscoroutinefunction(func) or inspect.isasyncgenfunction(func):
        return None
    if inspect.isgeneratorfunction(func) or resolver.self_parameter is None:
        return None
    others = (resolver.root_parameter, resolver.parent_parameter, resolver.info_parameter)
    if any(p is not None for p in others) or len(inspect.signature(func).parameters) != 1:
        return None
    return cast(Callable[[Any], Any], func)


def lighten(schema: strawberry.Schema) -> int:
    """Call argument-less, extension-less resolvers directly (see the module's doc); returns how many.

    A synchronous resolver of a field of an object (not the root's) that takes the object alone, as a
    write's payload reads what it found after the write, is called by the completers as a getter
    (completers.mark_getter): graphql-core then completes its field as a plain one.
    """
    if getattr(schema.schema_converter, "_exception_handler_specs", None):
        return 0  # exception handlers are applied by strawberry's wrapper
    info_class = schema.config.info_class
    roots = (schema._schema.query_type, schema._schema.mutation_type, schema._schema.subscription_type)
    count = 0
    for graphql_type in schema._schema.type_map.values():
        if not isinstance(graphql_type, GraphQLObjectType) or graphql_type.name.startswith("__"):
            continue
        if graphql_type is roots[2]:
            continue
        for field_def in graphql_type.fields.values():
            definition = (field_def.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
            if not isinstance(definition, StrawberryField) or field_def.args:
                continue
            direct = _direct(definition, info_class)
            if direct is not None:
                field_def.resolve = direct
                count += 1
            elif graphql_type not in roots and (get := _getter(definition)) is not None:
                mark_getter(field_def, get)
    return count
