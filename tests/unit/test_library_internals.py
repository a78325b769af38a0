"""The graphql-core and strawberry internals the speed-ups (service/speedups/) rely on are still there and
still behave as the speed-ups expect.

The speed-ups override and call graphql-core's executor below its public API, and use a few private
parts of strawberry. A release that changes them could leave a speed-up silently doing nothing, or
answering differently; pyproject.toml pins graphql-core to the releases checked here. When one of these
tests fails after an upgrade, re-read the named function in the new release, bring the speed-up named
in the message in line with it, and only then update the expectation here.
"""

from __future__ import annotations

import ast
import asyncio
import hashlib
import inspect
import re
import textwrap
from collections.abc import Callable
from importlib.metadata import version
from typing import Any

import graphql
import pytest
import strawberry
from graphql import GraphQLField, GraphQLResolveInfo
from graphql.execution.collect_fields import CollectedFields, FieldDetails
from graphql.execution.middleware import MiddlewareManager
from strawberry.extensions import ParserCache, ValidationCache
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.arguments import InputContext, convert_argument
from strawberry.types.base import StrawberryObjectDefinition
from strawberry.types.field import StrawberryField
from strawberry.types.info import Info

from service.speedups.fast_fields import FastFieldsExecutionContext
from service.speedups.lean_resolvers import lighten

Executor = StrawberryGraphQLCoreExecutionContext
RECHECK = (
    "graphql-core changed what service/speedups/{module} relies on: {what}. "
    "Re-read it in the new release, update {module}, then this test."
)

# The releases whose internals were read and checked: pyproject.toml pins graphql-core to them.
CHECKED = ("3.3.0", "3.3.1", "3.3.2")

# graphql-core's functions that service/speedups/fast_fields.py re-implements for plain fields, by a hash of
# their code without docstrings (the same for every release in CHECKED).
REIMPLEMENTED = {
    "execute_fields": "1122e5a2205ac821",  # FastFieldsExecutionContext.execute_fields
    "complete_list_value": "9dcb3e7149a5520a",  # FastFieldsExecutionContext.complete_list_value
    "complete_leaf_value": "b747606a21a33648",  # completers.leaf
    "build_per_event_executor": "da0023f3f9aacda6",  # shared_results.py, which skips it for a known result
}

# Methods the speed-ups override or call, with their parameters.
SIGNATURES = {
    "execute_fields": ["self", "parent_type", "source_value", "path", "grouped_field_set", "position_context"],
    "complete_list_value": ["self", "return_type", "field_details_list", "info", "path", "result", "position_context"],
    "execute_field": ["self", "parent_type", "source", "field_details_list", "path", "position_context"],
    "complete_value": ["self", "return_type", "field_details_list", "info", "path", "result", "position_context"],
    "collect_subfields": ["self", "return_type", "field_details_list"],
    "build_per_event_executor": ["self", "payload"],
    "execute_operation": ["self", "serially"],
    "settle_in_background": ["self", "awaitables"],
}


def _code_hash(function: Callable[..., Any]) -> str:
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                node.body = node.body[1:]
    return hashlib.sha256(ast.dump(tree).encode()).hexdigest()[:16]


def test_graphql_core_is_a_release_whose_internals_were_checked() -> None:
    assert version("graphql-core") in CHECKED, (
        f"graphql-core {version('graphql-core')} is not one of {CHECKED}: run this file against it, "
        "follow what fails, then add it here and to the pin in pyproject.toml"
    )


@pytest.mark.parametrize("name", list(REIMPLEMENTED))
def test_the_executor_code_the_fast_path_mirrors_is_unchanged(name: str) -> None:
    module = "shared_results.py" if name == "build_per_event_executor" else "fast_fields.py and completers.py"
    assert _code_hash(getattr(Executor, name)) == REIMPLEMENTED[name], RECHECK.format(
        module=module, what=f"the code of Executor.{name}"
    )


@pytest.mark.parametrize("name", list(SIGNATURES))
def test_the_executor_methods_the_fast_path_overrides_or_calls_take_the_same_parameters(name: str) -> None:
    found = list(inspect.signature(getattr(Executor, name)).parameters)
    assert found == SIGNATURES[name], RECHECK.format(module="fast_fields.py", what=f"Executor.{name}{found}")


def test_the_structures_the_fast_path_reads_have_the_same_fields() -> None:
    what = "the fields of FieldDetails, CollectedFields or GraphQLResolveInfo"
    assert FieldDetails._fields == ("node", "defer_usage", "fragment_variable_values"), RECHECK.format(
        module="fast_fields.py", what=what
    )
    assert CollectedFields._fields[:2] == ("grouped_field_set", "new_defer_usages"), RECHECK.format(
        module="fast_fields.py", what=what
    )
    for name in ("field_nodes", "fragments", "context", "is_awaitable"):
        assert name in GraphQLResolveInfo._fields, RECHECK.format(module="read_ahead.py", what=f"ResolveInfo.{name}")
    assert "_middleware_resolvers" in MiddlewareManager.__init__.__code__.co_names, RECHECK.format(
        module="fast_fields.py", what="MiddlewareManager._middleware_resolvers (how middleware is seen)"
    )
    field = GraphQLField(graphql.GraphQLString, extensions={"a": 1})
    field.extensions = {**field.extensions, "b": 2}  # completers.mark_ready
    assert field.extensions == {"a": 1, "b": 2}


@strawberry.type
class Leaf:
    name: str
    count: int


@strawberry.type
class Query:
    @strawberry.field
    def leaves(self) -> list[Leaf]:
        return [Leaf(name="a", count=1), Leaf(name="b", count=2)]

    @strawberry.field
    def first(self, info: Info) -> Leaf:
        return Leaf(name="c", count=3)


class Counting(FastFieldsExecutionContext):
    """Counts the fields graphql-core executes itself (each costs it a path, an info and a resolver call)."""

    executed: list[str] = []

    def execute_field(self, parent_type: Any, source: Any, field_details_list: Any, path: Any, *rest: Any) -> Any:
        Counting.executed.append(f"{parent_type.name}.{field_details_list[0].node.name.value}")
        return super().execute_field(parent_type, source, field_details_list, path, *rest)


def test_plain_fields_are_completed_without_graphql_core_executing_them() -> None:
    schema = strawberry.Schema(query=Query, execution_context_class=Counting)
    Counting.executed = []
    result = schema.execute_sync("{ leaves { name count } first { name __typename } }")
    assert result.errors is None and result.data == {
        "leaves": [{"name": "a", "count": 1}, {"name": "b", "count": 2}],
        "first": {"name": "c", "__typename": "Leaf"},
    }
    assert sorted(Counting.executed) == ["Query.first", "Query.leaves"], RECHECK.format(
        module="fast_fields.py", what="plain fields are executed by graphql-core again (the fast path is not taken)"
    )


def test_strawberry_still_describes_fields_and_resolvers_as_the_speed_ups_read_them() -> None:
    schema = strawberry.Schema(query=Query)
    leaf_type = schema._schema.type_map["Leaf"]
    query_type = schema._schema.type_map["Query"]
    assert isinstance(leaf_type, graphql.GraphQLObjectType) and isinstance(query_type, graphql.GraphQLObjectType)
    name = leaf_type.fields["name"]
    definition = name.extensions[GraphQLCoreConverter.DEFINITION_BACKREF]
    assert isinstance(definition, StrawberryField) and definition.is_basic_field
    assert name.resolve is not None and getattr(name.resolve, "_is_default", False), (
        "strawberry no longer marks a basic field's resolver `_is_default`: see completers._attribute_getter"
    )
    first = query_type.fields["first"].extensions[GraphQLCoreConverter.DEFINITION_BACKREF]
    resolver = first.base_resolver
    for attribute in ("wrapped_func", "self_parameter", "root_parameter", "parent_parameter", "info_parameter"):
        assert hasattr(resolver, attribute), f"strawberry's resolver has no `{attribute}`: see lean_resolvers.py"
    assert hasattr(schema.schema_converter, "_exception_handler_specs"), "see lean_resolvers.lighten"
    assert schema.config.info_class is Info
    assert lighten(schema) == 1  # Query.first (self, info); Query.leaves (self alone) is left to strawberry


def test_strawberry_builds_an_input_through_from_input_and_reads_extensions_per_request() -> None:
    @strawberry.input
    class Given:
        text: str

    definition: StrawberryObjectDefinition = Given.__strawberry_definition__  # type: ignore[attr-defined]
    seen: list[InputContext] = []

    def build(cls: type, value: Any, ctx: InputContext) -> Any:
        seen.append(ctx)
        return cls(**value)

    definition.from_input = build
    schema = strawberry.Schema(query=Query)
    built = convert_argument({"text": "x"}, Given, schema.schema_converter.scalar_registry, schema.config)
    assert built == Given(text="x") and seen and seen[0].config is schema.config, (
        "strawberry no longer builds inputs through `from_input`: see service/speedups/fast_inputs.py"
    )
    assert isinstance(schema.extensions, tuple) and len(schema.get_extensions()) == len(schema.extensions), (
        "strawberry no longer makes extensions per request from Schema.extensions: see speedups.install"
    )
    for cache, hook in ((ParserCache, "on_parse"), (ValidationCache, "on_validate")):
        assert inspect.isgeneratorfunction(getattr(cache, hook)), f"see short_caches.py: {cache.__name__}.{hook}"


def test_a_dataloader_keeps_a_loaded_key_as_a_done_future() -> None:
    # read_ahead.loaded relies on a DataLoader's result being a done asyncio.Future once loaded.
    async def run() -> bool:
        from strawberry.dataloader import DataLoader

        async def load(keys: list[int]) -> list[int]:
            return keys

        loader = DataLoader(load_fn=load)
        await loader.load(1)
        again = loader.load(1)
        return isinstance(again, asyncio.Future) and again.done()

    assert asyncio.run(run()), "see service/speedups/read_ahead.py: loaded()"


def test_uvicorn_s_websocket_protocol_uses_only_what_the_lean_path_gives_it() -> None:
    """speedups/live_delivery.py's `lighten` swaps an accepted connection's queue and flow-control flag for lighter
    objects and drops the handshake's request and response: uvicorn must call nothing else on them, and read
    the request and response only while the handshake runs."""
    from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

    from service.speedups.live_delivery import _Inbox, _Writable

    source = inspect.getsource(WebSocketsSansIOProtocol)
    for attribute, light in (("queue", _Inbox), ("writable", _Writable)):
        called = set(re.findall(rf"self\.{attribute}\.(\w+)", source))
        assert called and called <= {name for name in dir(light) if not name.startswith("__")}, (attribute, called)
    readers = {
        node.name
        for node in ast.walk(ast.parse(textwrap.dedent(source)))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and re.search(r"self\.(request|response)\b", ast.unparse(node))
    }
    assert readers == {"handle_connect", "send"}, readers
    send = inspect.getsource(WebSocketsSansIOProtocol.send)
    # In `send`, only the branch taken before the handshake completes reads them.
    assert send.index("if not self.handshake_complete") < send.index("self.response")
    assert "self.response" not in send[send.index("elif not self.close_sent") :]
