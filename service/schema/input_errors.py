"""Errors about input values, read one way: `field: what is wrong`, with `extensions.field`, code VALIDATION.

graphql-core refuses a bad argument value in two places: a literal written in
the document while validating it, a variable's value while coercing the
variables. It says so in its own words, with the path inside the value only in
its English (and for a literal not at all), and where a scalar of ours refuses
a value it keeps our exception as the error's cause, which over HTTP looked
like an unexpected failure.

So each such error is explained again from its structure: the node it names
(a variable's definition, or a value in the document), the argument that
node belongs to, the argument's type and the value given. The value is
checked against the type as graphql-core checks it, and every fault becomes an
error naming the field as the domain names fields (`value`, `profile[1]`,
`components[0].key`: inside an input object its path, else the argument's
name), with the domain's phrasing (service/schema/scalars.py for our scalars).
The same value gives the same errors whether it is written inline or sent as a
variable. An error this cannot explain is left as graphql-core made it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    ArgumentNode,
    DirectiveNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLArgument,
    GraphQLError,
    GraphQLField,
    GraphQLInputType,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLSchema,
    InlineFragmentNode,
    ListValueNode,
    Node,
    ObjectValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    Undefined,
    ValueNode,
    VariableDefinitionNode,
    VariableNode,
    get_named_type,
    is_input_object_type,
    type_from_ast,
)

from service.schema.value_faults import Path, literal_faults, value_faults


@dataclass(frozen=True)
class Place:
    """Where a node of the document sits: in which argument, and where inside its value."""

    argument: str
    type: GraphQLInputType
    path: Path


def explain(
    errors: list[GraphQLError],
    schema: GraphQLSchema,
    document: DocumentNode | None,
    variables: Mapping[str, Any] | None,
) -> list[GraphQLError]:
    """`errors` with each one about an input value replaced by our explanation of it (see the module)."""
    if not any(_about_input(e) for e in errors):
        return errors
    index = _Index(schema, document)
    explained: list[GraphQLError] = []
    done: set[int] = set()  # the variables and arguments already explained
    for e in errors:
        node = e.nodes[0] if e.nodes and _about_input(e) else None
        faults: list[GraphQLError] | None = None
        if isinstance(node, VariableDefinitionNode):
            if id(node) in done:
                continue
            done.add(id(node))
            faults = _variable_faults(schema, index, node, variables or {})
        elif node is not None and (found := index.places.get(id(node))) is not None:
            argument = found[1]
            if id(argument) in done:
                continue
            done.add(id(argument))
            faults = _argument_faults(index, argument, variables or {})
        elif isinstance(node, FieldNode | DirectiveNode):
            faults = _missing_arguments(index, node)
        explained.extend(faults or [e])
    return explained


def _about_input(e: GraphQLError) -> bool:
    return not (e.extensions or {}).get("code") and bool(e.nodes)


def error(field: str, what: str, node: Node | None) -> GraphQLError:
    """A refused input value, as the domain's errors read."""
    return GraphQLError(f"{field}: {what}", node, extensions={"code": "VALIDATION", "field": field})


def field_name(place: Place, inner: Path = ()) -> str:
    """The field a fault is reported at: inside an input object argument its path, else the argument's name too."""
    path = (*place.path, *inner)
    if not (path and is_input_object_type(get_named_type(place.type)) and isinstance(path[0], str)):
        path = (place.argument, *path)
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


# -- the document: where each argument and value is --------------------------------------------------------


class _Index:
    """Every argument and value of a document, by node, with its place; and every field's definition."""

    def __init__(self, schema: GraphQLSchema, document: DocumentNode | None) -> None:
        self.schema = schema
        # id(node) -> (node, the argument node it is in, its place)
        self.places: dict[int, tuple[Node, ArgumentNode, Place]] = {}
        # variable name -> where it is first used
        self.uses: dict[str, Place] = {}
        # id(field or directive node) -> (node, its argument definitions)
        self.arguments: dict[int, tuple[Node, Mapping[str, GraphQLArgument]]] = {}
        if document is None:
            return
        fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        for definition in document.definitions:
            if isinstance(definition, OperationDefinitionNode):
                root = schema.get_root_type(definition.operation)
                if root is not None:
                    self._selections(definition.selection_set, root, fragments, set())

    def _selections(
        self,
        selection_set: SelectionSetNode | None,
        parent: GraphQLNamedType,
        fragments: Mapping[str, FragmentDefinitionNode],
        seen: set[str],
    ) -> None:
        for selection in selection_set.selections if selection_set else ():
            self._directives(selection.directives)
            if isinstance(selection, FieldNode):
                fields: Mapping[str, GraphQLField] = getattr(parent, "fields", {})
                field = fields.get(selection.name.value)
                if field is None:
                    continue
                self._arguments(selection, field.args)
                self._selections(selection.selection_set, get_named_type(field.type), fragments, seen)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner = self.schema.get_type(condition.name.value) if condition else parent
                if inner is not None:
                    self._selections(selection.selection_set, inner, fragments, seen)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = fragments.get(name)
                if fragment is not None and name not in seen:
                    seen.add(name)  # validation refuses cycles; this guards the walk anyway
                    inner = self.schema.get_type(fragment.type_condition.name.value)
                    if inner is not None:
                        self._directives(fragment.directives)
                        self._selections(fragment.selection_set, inner, fragments, seen)

    def _directives(self, directives: tuple[DirectiveNode, ...] | None) -> None:
        for directive in directives or ():
            definition = self.schema.get_directive(directive.name.value)
            if definition is not None:
                self._arguments(directive, definition.args)

    def _arguments(self, node: FieldNode | DirectiveNode, definitions: Mapping[str, GraphQLArgument]) -> None:
        self.arguments[id(node)] = (node, definitions)
        for argument in node.arguments or ():
            definition = definitions.get(argument.name.value)
            if definition is not None:
                place = Place(argument.name.value, definition.type, ())
                self._value(argument.value, argument, place)

    def _value(self, node: ValueNode, argument: ArgumentNode, place: Place) -> None:
        self.places[id(node)] = (node, argument, place)
        if isinstance(node, VariableNode):
            self.uses.setdefault(node.name.value, place)
        elif isinstance(node, ListValueNode):
            for i, item in enumerate(node.values):
                self._value(item, argument, Place(place.argument, place.type, (*place.path, i)))
        elif isinstance(node, ObjectValueNode):
            for field in node.fields:
                inner = Place(place.argument, place.type, (*place.path, field.name.value))
                self.places[id(field)] = (field, argument, inner)
                self._value(field.value, argument, inner)


# -- the faults of each argument and variable --------------------------------------------------------


def _variable_faults(
    schema: GraphQLSchema, index: _Index, node: VariableDefinitionNode, variables: Mapping[str, Any]
) -> list[GraphQLError] | None:
    name = node.variable.name.value
    type_ = type_from_ast(schema, node.type)
    place = index.uses.get(name)
    if type_ is None or place is None:
        return None
    value = variables.get(name, Undefined)
    if value is Undefined and node.default_value is not None:
        return None  # a bad default: the document's fault, as graphql-core says
    faults = list(value_faults(value, type_, ()))  # type: ignore[arg-type]
    return [error(field_name(place, path), what, node) for path, what in faults] or None


def _argument_faults(index: _Index, argument: ArgumentNode, variables: Mapping[str, Any]) -> list[GraphQLError] | None:
    found = index.places.get(id(argument.value))
    if found is None:
        return None
    place = found[2]
    faults = list(literal_faults(argument.value, place.type, (), variables))
    return [error(field_name(place, path), what, node) for path, what, node in faults] or None


def _missing_arguments(index: _Index, node: FieldNode | DirectiveNode) -> list[GraphQLError] | None:
    found = index.arguments.get(id(node))
    if found is None:
        return None
    given = {a.name.value for a in node.arguments or ()}
    missing = [
        name
        for name, definition in found[1].items()
        if name not in given and isinstance(definition.type, GraphQLNonNull) and definition.default_value is Undefined
    ]
    return [error(name, "is required", node) for name in missing] or None
