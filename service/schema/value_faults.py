"""The faults of one input value against its GraphQL type, found as graphql-core checks it.

The same value gives the same faults whether it came as a variable's JSON
(`value_faults`) or was written in the document (`literal_faults`); each fault
is a path inside the value and what is wrong there, in the domain's words
(service/schema/scalars.py speaks for our own scalars).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    ListValueNode,
    Node,
    NullValueNode,
    ObjectValueNode,
    StringValueNode,
    Undefined,
    ValueNode,
    VariableNode,
    is_required_input_field,
    value_from_ast_untyped,
)
from graphql.type.definition import is_enum_type
from graphql.type.scalars import GraphQLBoolean, GraphQLFloat, GraphQLID, GraphQLInt, GraphQLString

from service.schema.scalars import Refused

Path = tuple[str | int, ...]
Fault = tuple[Path, str]  # where inside a value, what is wrong there

# What a built-in scalar takes, in the domain's words.
_BUILT_IN: Mapping[GraphQLScalarType, str] = {
    GraphQLString: "must be text",
    GraphQLID: "must be an id: text, or a whole number",
    GraphQLInt: "must be a whole number from -2147483648 to 2147483647",
    GraphQLFloat: "must be a number",
    GraphQLBoolean: "must be true or false",
}


def value_faults(value: Any, type_: GraphQLInputType, path: Path) -> Iterator[Fault]:
    """What is wrong with a variable's value (JSON) for `type_`, in the order of the type's fields."""
    if isinstance(type_, GraphQLNonNull):
        if value is Undefined:
            yield path, "is required"
        elif value is None:
            yield path, "must not be null"
        else:
            yield from value_faults(value, type_.of_type, path)
        return
    if value is None or value is Undefined:
        return
    if isinstance(type_, GraphQLList):
        if isinstance(value, list | tuple):
            for i, item in enumerate(value):
                yield from value_faults(item, type_.of_type, (*path, i))
        else:  # a list takes a single value as a list of one
            yield from value_faults(value, type_.of_type, path)
    elif isinstance(type_, GraphQLInputObjectType):
        if not isinstance(value, dict):
            yield path, f"must be an object ({type_.name}), not {shown(value)}"
            return
        for name, field in type_.fields.items():
            given = value.get(name, Undefined)
            if given is Undefined:
                if is_required_input_field(field):
                    yield (*path, name), "is required"
            else:
                yield from value_faults(given, field.type, (*path, name))
        yield from _unknown(type_, [name for name in value if name not in type_.fields], path)
    else:
        try:
            if is_enum_type(type_):
                result = type_.coerce_input_value(value, True)  # type: ignore[union-attr]
            else:
                result = type_.coerce_input_value(value)  # type: ignore[union-attr]
            cause = None
        except Exception as e:  # noqa: BLE001 - a scalar's refusal is what we explain
            result, cause = Undefined, e
        if result is Undefined:
            yield path, _leaf_fault(type_, value, cause)


def literal_faults(
    node: ValueNode, type_: GraphQLInputType, path: Path, variables: Mapping[str, Any]
) -> Iterator[tuple[Path, str, Node]]:
    """What is wrong with a value written in the document, as `_value_faults` says it of the same JSON."""
    if isinstance(node, VariableNode):
        value = variables.get(node.name.value, Undefined)
        if isinstance(type_, GraphQLNonNull) and value is None:
            yield path, "must not be null", node
        return  # its own value is checked as a variable
    if isinstance(type_, GraphQLNonNull):
        if isinstance(node, NullValueNode):
            yield path, "must not be null", node
        else:
            yield from literal_faults(node, type_.of_type, path, variables)
        return
    if isinstance(node, NullValueNode):
        return
    if isinstance(type_, GraphQLList):
        if isinstance(node, ListValueNode):
            for i, item in enumerate(node.values):
                yield from literal_faults(item, type_.of_type, (*path, i), variables)
        else:
            yield from literal_faults(node, type_.of_type, path, variables)
    elif isinstance(type_, GraphQLInputObjectType):
        if not isinstance(node, ObjectValueNode):
            yield path, f"must be an object ({type_.name}), not {shown(_untyped(node, variables))}", node
            return
        given = {f.name.value: f for f in node.fields}
        for name, field in type_.fields.items():
            field_node = given.get(name)
            if field_node is None:
                if is_required_input_field(field):
                    yield (*path, name), "is required", node
            else:
                yield from literal_faults(field_node.value, field.type, (*path, name), variables)
        unknown = [f for f in node.fields if f.name.value not in type_.fields]
        for (fault_path, what), field_node in zip(
            _unknown(type_, [f.name.value for f in unknown], path), unknown, strict=True
        ):
            yield fault_path, what, field_node
    else:
        cause: Exception | None = None
        try:
            if is_enum_type(type_):
                result = type_.coerce_input_literal(node, True)  # type: ignore[union-attr]
            elif getattr(type_, "coerce_input_literal", None) is not None:
                result = type_.coerce_input_literal(node)  # type: ignore[union-attr]
            else:
                result = type_.parse_literal(node, dict(variables))  # type: ignore[union-attr]
        except Exception as e:  # noqa: BLE001 - a scalar's refusal is what we explain
            result, cause = Undefined, e
        if result is Undefined:
            value = _untyped(node, variables)
            if is_enum_type(type_) and isinstance(node, StringValueNode) and value in type_.values:  # type: ignore[union-attr]
                yield path, f"is an enum value: write {value} without quotes", node
            else:
                yield path, _leaf_fault(type_, value, cause), node


def _unknown(type_: GraphQLInputObjectType, names: list[str], path: Path) -> Iterator[Fault]:
    known = ", ".join(type_.fields)
    for name in names:
        yield (*path, name), f"is not a field of {type_.name}, which has {known}"


def _leaf_fault(type_: GraphQLInputType, value: Any, cause: Exception | None) -> str:
    if isinstance(cause, Refused):
        return str(cause)  # our scalars say what they take themselves
    if isinstance(type_, GraphQLEnumType):
        return f"must be one of {', '.join(type_.values)}, not {shown(value)}"
    if isinstance(type_, GraphQLScalarType):
        takes = _BUILT_IN.get(type_, f"must be a {type_.name}")
        return f"{takes}, not {shown(value)}"
    return f"is not a {type_}: {shown(value)}"


def _untyped(node: ValueNode, variables: Mapping[str, Any]) -> Any:
    try:
        return value_from_ast_untyped(node, dict(variables))
    except Exception:  # noqa: BLE001 - only for showing it
        return None


def shown(value: Any) -> str:
    """A value as an error message quotes it: Python's repr, cut short, as the domain's errors quote values."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
