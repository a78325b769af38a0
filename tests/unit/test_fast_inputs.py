"""Inputs built from a field table (service/speedups/fast_inputs.py) are exactly the objects strawberry's
own conversion builds: every field given, only the required ones, and nulls; and a schema without the
speed-ups converts them as strawberry does."""

from __future__ import annotations

import enum
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
import strawberry
from graphql import GraphQLInputObjectType
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.arguments import convert_argument
from strawberry.types.base import StrawberryList, StrawberryObjectDefinition, StrawberryOptional

from service import speedups
from service.schema import build_schema

SCHEMA = build_schema()
speedups.install(SCHEMA)
PLAIN = build_schema()
# Every input type of the schema, as classes.
INPUTS = [
    t.extensions[GraphQLCoreConverter.DEFINITION_BACKREF].origin
    for t in SCHEMA._schema.type_map.values()
    if isinstance(t, GraphQLInputObjectType)
]
SAMPLES: dict[Any, Any] = {str: "text", int: 7, Decimal: Decimal("12.5"), date: date(2012, 4, 1)}


def sample(type_: Any) -> Any:
    """A GraphQL-coerced value of `type_`, as graphql-core hands it to strawberry."""
    if isinstance(type_, StrawberryOptional):
        return sample(type_.of_type)
    if isinstance(type_, StrawberryList):
        return [sample(type_.of_type), sample(type_.of_type)]
    if isinstance(type_, type) and issubclass(type_, enum.Enum):
        return list(type_)[-1]
    definition = getattr(type_, "__strawberry_definition__", None)
    if isinstance(definition, StrawberryObjectDefinition):
        return graphql_value(definition, every_field=True)
    return SAMPLES.get(type_, "an-id")  # strawberry.ID is a NewType of str


def graphql_value(definition: StrawberryObjectDefinition, *, every_field: bool, nulls: bool = False) -> dict[str, Any]:
    value = {}
    for f in definition.fields:
        type_ = f.resolve_type(type_definition=definition)
        optional = isinstance(type_, StrawberryOptional)
        if optional and not every_field:
            continue
        name = SCHEMA.config.name_converter.from_field(f)
        value[name] = None if optional and nulls else sample(type_)
    return value


def convert(type_: type, value: dict[str, Any], schema: strawberry.Schema = SCHEMA) -> Any:
    return convert_argument(value, type_, schema.schema_converter.scalar_registry, schema.config)


@pytest.mark.parametrize("type_", INPUTS, ids=lambda t: t.__name__)
@pytest.mark.parametrize("shape", ["every field", "required fields", "optional fields null"])
def test_an_input_is_built_as_strawberry_builds_it(type_: type, shape: str) -> None:
    definition: StrawberryObjectDefinition = type_.__strawberry_definition__  # type: ignore[attr-defined]
    value = graphql_value(definition, every_field=shape != "required fields", nulls=shape == "optional fields null")
    fast = definition.from_input
    assert getattr(fast, "fast_input", False), "the speed-ups give every input type the fast builder"
    built, unsped = convert(type_, value), convert(type_, value, PLAIN)
    definition.from_input = None
    try:
        plain = convert(type_, value)
    finally:
        definition.from_input = fast
    assert type(built) is type_ and built == plain
    assert vars(built) == vars(plain) == vars(unsped)  # the same attributes, not merely equal fields


def test_a_list_given_is_copied_not_shared() -> None:
    (components_input,) = [t for t in INPUTS if t.__name__ == "DefineMeasureInput"]
    definition: StrawberryObjectDefinition = components_input.__strawberry_definition__  # type: ignore[attr-defined]
    value = graphql_value(definition, every_field=True)
    built = convert(components_input, value)
    assert built.components[0].key == "text"
    assert built.components is not value["components"]
