"""Subscription messages executed once per event and operation, not once per subscriber.

A live status change reaches every subscriber as the same payload object
(service/fanout.py converts each row once). Executing the selection set on it
costs the same for each of a thousand subscribers who sent the same document,
and was most of the fan-out's time; so the result is kept on the payload and
reused by every subscription of the same operation whose selection reads the
same variable values. Only for payloads of the `shared_types`: their fields
must not depend on who asks (no context, no loaders), which holds for
StatusChange and AuditEntry, whose fields are plain values.
"""

from __future__ import annotations

from typing import Any, ClassVar

from graphql import FieldNode, OperationDefinitionNode, OperationType, Visitor, visit
from graphql.language import VariableNode

from service.speedups.fast_fields import FastFieldsExecutionContext

_RESULTS = "_shared_results"
# (id of the operation's AST, values of the variables its selection reads below the root field)
ShareKey = tuple[int, str]
Results = dict[ShareKey, tuple[OperationDefinitionNode, Any]]


class _VariableNames(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def enter_variable(self, node: VariableNode, *_: Any) -> None:
        self.names.add(node.name.value)


def variables_below_root(operation: OperationDefinitionNode, fragments: dict[str, Any]) -> list[str]:
    """The variables the selection uses other than as the root field's arguments (e.g. in @include)."""
    found = _VariableNames()
    for selection in operation.selection_set.selections:
        if isinstance(selection, FieldNode):
            for directive in selection.directives or ():
                visit(directive, found)
            if selection.selection_set is not None:
                visit(selection.selection_set, found)
        else:
            visit(selection, found)
    for fragment in fragments.values():
        visit(fragment, found)
    return sorted(found.names)


class _Executed:
    """Stands in for a per-event executor whose result is already known."""

    __slots__ = ("result",)

    def __init__(self, result: Any) -> None:
        self.result = result

    def execute_operation(self, serially: bool | None = None) -> Any:
        return self.result


class SharedResultsExecutionContext(FastFieldsExecutionContext):
    """Plain fields completed directly, and a subscription payload's result reused per operation."""

    # The payload types whose results are shared: set by a subclass.
    shared_types: ClassVar[tuple[type, ...]] = ()
    _share_key: ShareKey | None = None

    def _results(self, payload: Any) -> Results | None:
        """The results kept on a payload of a shared type, made at its first use; None for any other payload."""
        if type(payload) not in self.shared_types:
            return None
        results: Results | None = getattr(payload, _RESULTS, None)
        if results is None:
            results = {}
            object.__setattr__(payload, _RESULTS, results)
        return results

    def build_per_event_executor(self, payload: Any) -> Any:
        if self.operation.operation is not OperationType.SUBSCRIPTION or (results := self._results(payload)) is None:
            return super().build_per_event_executor(payload)
        if self._share_key is None:
            # Worked out once per subscription, on the executor every event's copy is made from.
            names = variables_below_root(self.operation, self.fragment_definitions)
            values = self.variable_values.coerced
            self._share_key = (id(self.operation), repr([(name, values.get(name)) for name in names]))
        # The AST is kept with the result, so its id cannot be reused by another document meanwhile.
        if (cached := results.get(self._share_key)) is not None and cached[0] is self.operation:
            return _Executed(cached[1])  # not even a copy of the executor
        return super().build_per_event_executor(payload)

    def execute_operation(self, serially: bool | None = None) -> Any:
        result = super().execute_operation(serially)
        key = self._share_key
        if key is not None and not self.is_awaitable(result):
            results = self._results(self.root_value)
            if results is not None:
                results[key] = (self.operation, result)
        return result
