"""Every element of the schema a client sees is described: types, fields, arguments, enum values, input fields
and custom scalars (with their exact format), so a frontend developer never has to ask how it behaves."""

from __future__ import annotations

from collections.abc import Iterator

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    is_introspection_type,
    is_specified_directive,
    is_specified_scalar_type,
)

from service.schema import build_schema


def described(text: str | None) -> bool:
    return bool(text and text.strip())


def undocumented(schema: GraphQLSchema) -> Iterator[str]:
    """The coordinates of every element without a description, e.g. `Figure.value`, `Query.plan(asOf:)`."""
    for name, named in sorted(schema.type_map.items()):
        if is_introspection_type(named) or is_specified_scalar_type(named):
            continue
        if not described(named.description):
            yield name
        if isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
            for field_name, field in named.fields.items():
                if not described(field.description):
                    yield f"{name}.{field_name}"
                yield from (
                    f"{name}.{field_name}({arg}:)"
                    for arg, value in field.args.items()
                    if not described(value.description)
                )
        elif isinstance(named, GraphQLInputObjectType):
            yield from (f"{name}.{f}" for f, value in named.fields.items() if not described(value.description))
        elif isinstance(named, GraphQLEnumType):
            yield from (f"{name}.{v}" for v, value in named.values.items() if not described(value.description))
    for directive in schema.directives:
        if is_specified_directive(directive):
            continue
        if not described(directive.description):
            yield f"@{directive.name}"
        yield from (f"@{directive.name}({a}:)" for a, v in directive.args.items() if not described(v.description))


def test_every_type_field_argument_enum_value_and_input_field_is_described() -> None:
    missing = list(undocumented(build_schema()._schema))

    assert missing == [], f"{len(missing)} elements of the schema have no description: {', '.join(missing)}"


def test_every_custom_scalar_states_its_exact_format() -> None:
    schema = build_schema()._schema
    custom = [t for t in schema.type_map.values() if isinstance(t, GraphQLScalarType)]
    scalars = {s.name: s for s in custom if not is_specified_scalar_type(s)}

    assert scalars.keys() == {"Date", "DateTime", "Decimal"}
    rfc3339 = "https://www.rfc-editor.org/rfc/rfc3339#section-5.6"
    assert (scalars["Date"].specified_by_url, scalars["DateTime"].specified_by_url) == (rfc3339, rfc3339)
    for example in ("2012-04-01", "YYYY-MM-DD"):
        assert example in (scalars["Date"].description or "")
    for example in ("2012-09-25T09:00:00+00:00", "UTC", "offset"):
        assert example in (scalars["DateTime"].description or "")
    for example in ('"-19.5"', "JSON string", "no trailing zeros", "never NaN"):
        assert example in (scalars["Decimal"].description or "")


def test_the_walk_finds_what_is_missing() -> None:
    schema = build_schema()._schema
    figure = schema.type_map["Figure"]
    assert isinstance(figure, GraphQLObjectType)
    kept = figure.fields["value"].description
    figure.fields["value"].description = None
    try:
        assert list(undocumented(schema)) == ["Figure.value"]
    finally:
        figure.fields["value"].description = kept
