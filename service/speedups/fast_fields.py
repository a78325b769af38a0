"""Plain fields completed without graphql-core's per-field machinery.

A dashboard resolves thousands of fields, and almost all of them are plain
attributes of an object already built (a figure's value, status, recordedAt…).
graphql-core builds for each: a Path, a ResolveInfo, strawberry's
resolver wrapper, argument coercion, several layers of complete_value. For a
plain field (completers.py) none of that can change the answer, so this
executor reads and coerces it directly.

Objects whose selected fields are all plain (a Figure, a Baseline, an
Override) are completed the same way, and so are lists of them, e.g. the list a
`figures` resolver returns. Read-ahead (read_ahead.py) gives a plan's measures
their components, quarters, baselines and figures ready-made, so a whole
dashboard below Plan.measures completes as plain values.

Anything out of the ordinary falls back to graphql-core for that field: a null
where the schema promises non-null, a value the type cannot coerce, an
exception, directives on the field (@stream, @defer), middleware (a schema
extension with `resolve`). Nothing here has side effects, so graphql-core then
resolves the field again from the start and reports the error with its usual
message, path and null propagation; the response is identical either way.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Iterable, Mapping
from typing import Any

from graphql import (
    FieldNode,
    GraphQLList,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    OperationDefinitionNode,
    Undefined,
    VariableNode,
    Visitor,
    is_leaf_type,
    is_list_type,
    is_object_type,
    visit,
)
from graphql.execution.collect_fields import FieldDetails
from graphql.pyutils import AwaitableOrValue, Path
from graphql.pyutils.gather_with_cancel import gather_with_cancel
from graphql.type.introspection import TypeNameMetaFieldDef
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from service.speedups.completers import (
    Complete,
    Entry,
    Fallback,
    leaf,
    list_completer,
    object_completer,
    reading,
    unwrap,
)

FieldDetailsList = list[FieldDetails]
GroupedFieldSet = Mapping[str, FieldDetailsList]


# Object completers shared by requests: planning them (collecting the fields of each selection, finding how to
# read and coerce each) is a few percent of a dashboard, and the same for every request of the same document.
# (object type, ids of its field nodes, values of the document's directive variables) -> (those nodes, completer)
_SHARED: dict[tuple[Any, ...], tuple[tuple[FieldNode, ...], Complete | None]] = {}
_SHARED_SIZE = 2048
# id(operation) -> (that operation, the variables its directives and its fragments' read)
_DIRECTIVE_VARIABLES: dict[int, tuple[OperationDefinitionNode, tuple[str, ...]]] = {}


class _DirectiveVariables(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.depth, self.names = 0, set[str]()

    def enter_directive(self, *_: Any) -> None:
        self.depth += 1

    def leave_directive(self, *_: Any) -> None:
        self.depth -= 1

    def enter_variable(self, node: VariableNode, *_: Any) -> None:
        if self.depth:
            self.names.add(node.name.value)


def _directive_variables(operation: OperationDefinitionNode, fragments: Mapping[str, Any]) -> tuple[str, ...]:
    """The variables read by directives (@include, @skip, …) of an operation and of the document's fragments."""
    found = _DIRECTIVE_VARIABLES.get(id(operation))
    if found is not None and found[0] is operation:
        return found[1]
    visitor = _DirectiveVariables()
    visit(operation, visitor)
    for fragment in fragments.values():
        visit(fragment, visitor)
    names = tuple(sorted(visitor.names))
    if len(_DIRECTIVE_VARIABLES) >= 256:
        _DIRECTIVE_VARIABLES.clear()
    _DIRECTIVE_VARIABLES[id(operation)] = (operation, names)
    return names


class FastFieldsExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's execution context, completing plain attribute fields directly (see the module's doc)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        manager = self.middleware_manager
        # A middleware (an extension implementing `resolve`) must see every field: no fast path then.
        self._fast = manager is None or not getattr(manager, "_middleware_resolvers", None)
        # id(grouped field set) -> (that set, its plan); the set is kept so its id is not reused.
        self._plans: dict[int, tuple[GroupedFieldSet, list[Entry]]] = {}
        # (object type, id(field details list)) -> (that list, how to complete a value of it fast, or None)
        self._completers: dict[tuple[GraphQLObjectType, int], tuple[FieldDetailsList, Complete | None]] = {}
        # The values of the variables the document's directives read, once known (see _shared_key).
        self._directive_values: tuple[tuple[str, str], ...] | None = None

    # -- planning, once per selection set and request ------------------------------------------------------

    def _plan(self, parent_type: GraphQLObjectType, grouped_field_set: GroupedFieldSet) -> list[Entry]:
        cached = self._plans.get(id(grouped_field_set))
        if cached is not None and cached[0] is grouped_field_set:
            return cached[1]
        entries: list[Entry] = [
            (name, details, self._field_completer(parent_type, details)) for name, details in grouped_field_set.items()
        ]
        self._plans[id(grouped_field_set)] = (grouped_field_set, entries)
        return entries

    def _field_completer(self, parent_type: GraphQLObjectType, details: FieldDetailsList) -> Complete | None:
        nodes = [d.node for d in details]
        if any(n.directives or n.arguments for n in nodes):
            return None  # @stream, @defer, arguments: graphql-core's business
        field_def = self.schema.get_field(parent_type, nodes[0].name.value)
        if field_def is None:
            return None
        if field_def is TypeNameMetaFieldDef:
            typename = parent_type.name
            return lambda _source: typename
        get, completes = reading(field_def)
        if completes is not None:
            return completes
        if get is None:
            return None
        complete = self._value_completer(field_def.type, details)
        if complete is None:
            return None
        return lambda source: complete(get(source))

    def _value_completer(self, type_: GraphQLOutputType, details: FieldDetailsList) -> Complete | None:
        """How to complete a value of `type_` without graphql-core, or None where only graphql-core will do."""
        inner, non_null = unwrap(type_)
        if is_leaf_type(inner):
            return leaf(inner, non_null)
        if is_list_type(inner):
            assert isinstance(inner, GraphQLList)
            item = self._value_completer(inner.of_type, details)
            return None if item is None else list_completer(item, non_null)
        if is_object_type(inner):
            assert isinstance(inner, GraphQLObjectType)
            return self._object_completer(inner, details, non_null)
        return None  # interfaces and unions resolve their type at run time

    def _object_completer(
        self, object_type: GraphQLObjectType, details: FieldDetailsList, non_null: bool
    ) -> Complete | None:
        if object_type.is_type_of is not None:
            return None
        key = (object_type, id(details))
        cached = self._completers.get(key)
        if cached is not None and cached[0] is details:
            found = cached[1]
        else:
            shared_key = self._shared_key(object_type, details)
            shared = _SHARED.get(shared_key) if shared_key is not None else None
            if shared is not None and all(a is b for a, b in zip(shared[0], (d.node for d in details), strict=True)):
                found = shared[1]
            else:
                try:
                    grouped_field_set, new_defer_usages, _ = self.collect_subfields(object_type, details)
                except Exception:
                    # graphql-core raises it again where it belongs, completing the object itself.
                    self._completers[key] = (details, None)
                    return None
                entries = self._plan(object_type, grouped_field_set)
                whole = not new_defer_usages and all(complete is not None for _, _, complete in entries)
                found = object_completer(entries, False) if whole else None
                if shared_key is not None:
                    if len(_SHARED) >= _SHARED_SIZE:
                        _SHARED.clear()
                    _SHARED[shared_key] = (tuple(d.node for d in details), found)
            self._completers[key] = (details, found)
        if found is None:
            return None
        if not non_null:
            return found
        nullable = found

        def complete(value: Any) -> Any:
            if value is None or value is Undefined:
                raise Fallback
            return nullable(value)

        return complete

    def _shared_key(self, object_type: GraphQLObjectType, details: FieldDetailsList) -> tuple[Any, ...] | None:
        """The key of an object completer in the cache shared by requests; None if it must not be shared.

        Which fields an object's selection collects depends on the document (the same nodes for the
        same text: the ParserCache) and on the values of the variables its @include/@skip read; the
        completers depend on nothing else. Deferred fields and fragment arguments are not shared.
        """
        if any(d.defer_usage is not None or d.fragment_variable_values is not None for d in details):
            return None
        if self._directive_values is None:
            names = _directive_variables(self.operation, self.fragment_definitions)
            values = self.variable_values.coerced
            self._directive_values = tuple((name, repr(values.get(name))) for name in names)
        return (object_type, tuple(id(d.node) for d in details), self._directive_values)

    # -- execution -----------------------------------------------------------------------------------------

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: GroupedFieldSet,
        position_context: Any,
    ) -> AwaitableOrValue[dict[str, Any]]:
        """graphql-core's execute_fields, with plain fields completed directly."""
        if not self._fast or position_context is not None:
            return super().execute_fields(parent_type, source_value, path, grouped_field_set, position_context)  # type: ignore[arg-type]
        entries = self._plan(parent_type, grouped_field_set)
        results: dict[str, Any] = {}
        is_awaitable = self.is_awaitable
        awaitable_fields: list[str] = []
        try:
            for name, details, complete in entries:
                if complete is not None:
                    try:
                        results[name] = complete(source_value)
                        continue
                    except Exception:  # noqa: S110 - graphql-core completes it again below, and reports it
                        pass
                result = self.execute_field(
                    parent_type, source_value, details, Path(path, name, parent_type.name), position_context
                )
                if result is not Undefined:
                    results[name] = result
                    if is_awaitable(result):
                        awaitable_fields.append(name)
        except Exception:
            if awaitable_fields:
                self.settle_in_background([results[name] for name in awaitable_fields])
            raise
        if not awaitable_fields:
            return results
        # The rest as graphql-core does it: the awaitable fields' results, awaited together.
        return self._await_fields(results, awaitable_fields)

    async def _await_fields(self, results: dict[str, Any], awaitable_fields: list[str]) -> dict[str, Any]:
        if len(awaitable_fields) == 1:
            name = awaitable_fields[0]
            results[name] = await results[name]
        else:
            awaited = await gather_with_cancel(*(results[name] for name in awaitable_fields))
            results.update(zip(awaitable_fields, awaited, strict=True))
        return results

    def complete_list_value(
        self,
        return_type: GraphQLList[GraphQLOutputType],
        field_details_list: FieldDetailsList,
        info: GraphQLResolveInfo[Any],
        path: Path,
        result: AsyncIterable[Any] | Iterable[Any],
        position_context: Any,
    ) -> AwaitableOrValue[list[Any]]:
        """A list of plain objects (a resolver's list of figures) completed in one go."""
        if self._fast and position_context is None and isinstance(result, list | tuple):
            item_type, non_null = unwrap(return_type.of_type)
            if is_object_type(item_type) and not any(d.node.directives for d in field_details_list):
                assert isinstance(item_type, GraphQLObjectType)
                complete = self._object_completer(item_type, field_details_list, non_null)
                if complete is not None:
                    try:
                        return [complete(item) for item in result]
                    except Exception:  # noqa: S110 - graphql-core completes the list again, and reports it
                        pass
        return super().complete_list_value(return_type, field_details_list, info, path, result, position_context)
