"""How a plain field's value is completed without graphql-core: read, coerced, checked.

A "plain" field is one whose answer needs no resolver call: a strawberry basic
field (an attribute: no resolver, no arguments, no field extensions or
permissions), a field marked ready (`mark_ready`) on an object that carries
its resolver's answer ready-made (`keep_ready`; read_ahead.py fills them in),
or one whose resolver reads the object alone (`mark_getter`: a write's payload
object, a page's nodes), called here as strawberry would call it.
Leaves are coerced with the field type's own output coercion (Decimal -> str,
enums -> names, datetimes -> ISO strings), exactly as complete_leaf_value does.

Every completer raises where graphql-core would do something else (a null
where the schema promises non-null, a value the type cannot coerce, an
exception as a value): fast_fields.py then lets graphql-core complete that
field from the start, so it reports the error with its usual message and path.
"""

from __future__ import annotations

import enum
import operator
import weakref
from collections.abc import Callable
from typing import Any

from graphql import (
    GRAPHQL_MAX_INT,
    GRAPHQL_MIN_INT,
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLField,
    GraphQLID,
    GraphQLInt,
    GraphQLNonNull,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLString,
    Undefined,
    is_leaf_type,
    is_non_null_type,
)
from graphql.pyutils.is_iterable import is_iterable
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

# Completes one field from its parent object; raises anything to mean "let graphql-core do it".
Complete = Callable[[Any], Any]
# (response name, its field details, how to complete it fast or None)
Entry = tuple[str, Any, Complete | None]


class Fallback(Exception):
    """A value the fast path does not complete; graphql-core completes (or reports) it instead."""


# The key, in a GraphQL field's extensions, that marks a resolver whose answer an object may carry ready-made.
READY = "measure_ledger_ready"
_READY_PREFIX = "_ready_"
_NOT_READY: Any = object()


def mark_ready(field_def: GraphQLField) -> None:
    """Let objects carry this field's answer ready-made (`keep_ready`): it is then read, its resolver not called.

    Only for fields without arguments or extensions (permissions): those are always resolved.
    """
    field_def.extensions = {**(field_def.extensions or {}), READY: True}


def keep_ready(obj: Any, python_name: str, answer: Any) -> None:
    """Give `obj` the answer of its field `python_name`.

    Whoever calls this promises that `answer` is exactly what the field's resolver would
    return for this object in this request.
    """
    setattr(obj, _READY_PREFIX + python_name, answer)


# The key, in a GraphQL field's extensions, of a resolver that reads its object alone (lean_resolvers.py).
GETTER = "measure_ledger_getter"


def mark_getter(field_def: GraphQLField, get: Callable[[Any], Any]) -> None:
    """Complete this field as a plain one, its value `get(object)`: for a synchronous resolver that takes the
    object alone (no info, no arguments, no extensions), which strawberry would call with just that.

    `get` may raise: graphql-core then executes the field as ever, calling the resolver again, and reports
    what it raises at the field's path.
    """
    field_def.extensions = {**(field_def.extensions or {}), GETTER: get}


def _ready_getter(field_def: GraphQLField, definition: StrawberryField) -> Callable[[Any], Any] | None:
    if not (field_def.extensions or {}).get(READY) or definition.extensions or definition.arguments:
        return None
    attribute = _READY_PREFIX + definition.python_name

    def get(source: Any) -> Any:
        value = getattr(source, attribute, _NOT_READY)
        if value is _NOT_READY:
            raise Fallback
        return value

    return get


def _attribute_getter(field_def: GraphQLField) -> Callable[[Any], Any] | None:
    """How to read a plain field from its object: a strawberry basic field, a getter (`mark_getter`), or a
    resolver's ready-made answer.

    None if the field has a resolver that must be called.
    """
    definition = (field_def.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if not isinstance(definition, StrawberryField):
        return None
    if not definition.is_basic_field:
        if field_def.args:
            return None
        get: Callable[[Any], Any] | None = (field_def.extensions or {}).get(GETTER)
        return get if get is not None else _ready_getter(field_def, definition)
    if field_def.args or field_def.resolve is None or not getattr(field_def.resolve, "_is_default", False):
        return None
    if definition.default_resolver is getattr:
        return operator.attrgetter(definition.python_name)
    resolve = field_def.resolve
    # strawberry's basic resolver ignores its info argument.
    return lambda source: resolve(source, None)


def unwrap(type_: GraphQLOutputType) -> tuple[GraphQLOutputType, bool]:
    if is_non_null_type(type_):
        assert isinstance(type_, GraphQLNonNull)
        return type_.of_type, True
    return type_, False


def _checked(value: Any, non_null: bool) -> Any:
    """None for a nullable null; raises for what graphql-core would report."""
    if value is None or value is Undefined:
        if non_null:
            raise Fallback
        return None
    if isinstance(value, Exception):
        raise Fallback
    return value


# Built-in scalars whose output coercion returns a value of this exact Python type unchanged.
_IDENTITY: dict[GraphQLScalarType, type] = {GraphQLString: str, GraphQLID: str, GraphQLBoolean: bool}


def leaf(type_: GraphQLOutputType, non_null: bool, get: Callable[[Any], Any] | None = None) -> Complete:
    """Output coercion of a scalar or enum, as complete_leaf_value does it; shortcuts where the result is known.

    With `get`, it completes the field `get` reads from a source object (one call per field, not two).
    """
    coerce = type_.coerce_output_value  # type: ignore[union-attr]
    same = _IDENTITY.get(type_) if isinstance(type_, GraphQLScalarType) else None
    is_int = type_ is GraphQLInt
    # An enum member always coerces to the same name: remember it (strawberry's coercion scans every value).
    # Keyed by id, as Enum.__hash__ is a Python function; the member is kept to check the id is still its.
    names: dict[int, tuple[Any, Any]] = {}
    is_enum = isinstance(type_, GraphQLEnumType)

    def coerced(value: Any) -> Any:
        if value is None or value is Undefined:
            if non_null:
                raise Fallback
            return None
        if type(value) is same or (is_int and type(value) is int and GRAPHQL_MIN_INT <= value <= GRAPHQL_MAX_INT):
            return value
        if isinstance(value, Exception):
            raise Fallback
        result = coerce(value)
        if result is None or result is Undefined:
            raise Fallback
        if is_enum and isinstance(value, enum.Enum):
            names[id(value)] = (value, result)
        return result

    if get is None:
        return coerced
    if same is not None:

        def plain(source: Any) -> Any:
            value = get(source)
            return value if type(value) is same else coerced(value)

        return plain
    if is_enum:

        def member(source: Any) -> Any:
            value = get(source)
            known = names.get(id(value))
            return known[1] if known is not None and known[0] is value else coerced(value)

        return member

    def other(source: Any) -> Any:
        # coerced(), inlined: a Decimal or a datetime on every figure.
        value = get(source)
        if value is None or value is Undefined or isinstance(value, Exception):
            return coerced(value)
        if is_int and type(value) is int and GRAPHQL_MIN_INT <= value <= GRAPHQL_MAX_INT:
            return value
        result = coerce(value)
        if result is None or result is Undefined:
            raise Fallback
        return result

    return other


def object_completer(entries: list[Entry], non_null: bool) -> Callable[[Any], Any]:
    completes = [(name, complete) for name, _, complete in entries if complete is not None]

    def complete(value: Any) -> Any:
        if _checked(value, non_null) is None:
            return None
        return {name: c(value) for name, c in completes}

    return complete


def list_completer(item: Callable[[Any], Any], non_null: bool) -> Callable[[Any], Any]:
    def complete(value: Any) -> Any:
        if _checked(value, non_null) is None:
            return None
        if not is_iterable(value) or hasattr(value, "__aiter__"):
            raise Fallback
        return [item(v) for v in value]

    return complete


# id(field definition) -> (a weak reference to it, its getter, its completer if it is a leaf): they depend on
# the schema alone, so they are worked out once per schema, not per request. The reference tells a reused id.
_READING: dict[int, tuple[weakref.ref[GraphQLField], Callable[[Any], Any] | None, Complete | None]] = {}


def reading(field_def: GraphQLField) -> tuple[Callable[[Any], Any] | None, Complete | None]:
    """How to read a plain field, and to complete it too if it is a leaf; (None, None) if it is not plain."""
    found = _READING.get(id(field_def))
    if found is None or found[0]() is not field_def:
        get = _attribute_getter(field_def)
        inner, non_null = unwrap(field_def.type)
        completes = leaf(inner, non_null, get) if get is not None and is_leaf_type(inner) else None
        if len(_READING) > 10_000:  # schemas built and dropped (tests): forget the dead ones
            for key in [k for k, v in _READING.items() if v[0]() is None]:
                del _READING[key]
        found = _READING[id(field_def)] = (weakref.ref(field_def), get, completes)
    return found[1], found[2]
