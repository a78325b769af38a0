"""Plain fields completed directly (service/speedups/fast_fields.py) and resolvers called directly or read
as getters (service/speedups/lean_resolvers.py) answer exactly as strawberry and graphql-core do: data,
errors, paths and null propagation, including for values the schema does not allow."""

from __future__ import annotations

import asyncio
import decimal
import enum
from datetime import UTC, datetime
from typing import Any

import pytest
import strawberry
from graphql import GraphQLObjectType
from strawberry.extensions import SchemaExtension
from strawberry.schema.config import StrawberryConfig
from strawberry.types import Info

from service.schema.scalars import DecimalScalar
from service.speedups.completers import GETTER
from service.speedups.fast_fields import FastFieldsExecutionContext
from service.speedups.lean_resolvers import lighten


@strawberry.enum
class Colour(enum.Enum):
    RED = "red"
    GREEN = "green"


@strawberry.type
class Leaf:
    name: str
    count: int
    ratio: decimal.Decimal | None
    colour: Colour
    at: datetime
    tags: list[str] | None
    flags: list[bool | None]


@strawberry.type
class Holder:
    key: str
    leaf: Leaf | None
    required: Leaf

    @strawberry.field
    def leaves(self, info: Info) -> list[Leaf]:
        leaves: list[Leaf] = info.context["leaves"]
        return leaves

    @strawberry.field
    async def later(self, info: Info) -> list[Leaf | None]:
        await asyncio.sleep(0)
        leaves: list[Leaf | None] = info.context["leaves"]
        return leaves

    @strawberry.field
    def strict(self, info: Info) -> list[Leaf]:
        strict: list[Leaf] = info.context["strict"]
        return strict

    @strawberry.field
    def own(self) -> Leaf | None:
        return self.leaf

    @strawberry.field
    def checked(self) -> Leaf:
        if self.key != "k":
            raise ValueError(f"not the key: {self.key!r}")
        return self.required


def _leaf(**changes: Any) -> Leaf:
    values: dict[str, Any] = {
        "name": "a",
        "count": 1,
        "ratio": decimal.Decimal("-19.50"),
        "colour": Colour.RED,
        "at": datetime(2012, 9, 25, 9, 0, tzinfo=UTC),
        "tags": ["x", "y"],
        "flags": [True, None, False],
    }
    values.update(changes)
    return Leaf(**values)


@strawberry.type
class Query:
    @strawberry.field
    def holders(self, info: Info) -> list[Holder]:
        holders: list[Holder] = info.context["holders"]
        return holders


def _schema(fast: bool, extensions: list[Any] | None = None) -> strawberry.Schema:
    schema = strawberry.Schema(
        query=Query,
        config=StrawberryConfig(scalar_map={decimal.Decimal: DecimalScalar}),
        execution_context_class=FastFieldsExecutionContext if fast else None,
        extensions=extensions or [],
    )
    if fast:
        lighten(schema)
    return schema


QUERY = """query($yes: Boolean!) { holders { __typename key
  leaf { name count ratio colour at tags flags __typename }
  required { name colour ...More @include(if: $yes) }
  alias: leaf { n: name c: count @include(if: $yes) d: count @skip(if: $yes) }
  leaves { name colour count ratio at tags flags ... on Leaf { n: name } }
  later { name colour }
  strict { name count ...More }
  own { name count ratio } checked { name colour }
} }
fragment More on Leaf { at tags flags c: count @skip(if: $yes) }"""


def _contexts() -> dict[str, dict[str, Any]]:
    good = [_leaf(), _leaf(name="b", colour=Colour.GREEN, ratio=None, tags=None)]
    holder = Holder(key="k", leaf=_leaf(), required=_leaf())
    # Values the schema does not allow, as a buggy resolver could return them.
    empty: Any = Holder(key="k", leaf=None, required=None)  # type: ignore[arg-type]
    numbered: Any = Holder(key=7, leaf=_leaf(), required=_leaf())  # type: ignore[arg-type]
    return {
        "plain": {"holders": [holder], "leaves": good, "strict": good},
        "null in non-null leaf": {"holders": [holder], "leaves": [_leaf(name=None)], "strict": good},
        "null in non-null object": {"holders": [empty], "leaves": good, "strict": good},
        "null list item": {"holders": [holder], "leaves": good, "strict": [None, _leaf()]},
        "not an enum value": {"holders": [holder], "leaves": [_leaf(colour="blue")], "strict": good},
        "int out of range": {"holders": [holder], "leaves": [_leaf(count=2**40)], "strict": good},
        "raw enum value": {"holders": [holder], "leaves": [_leaf(colour="green")], "strict": good},
        "exception as value": {"holders": [holder], "leaves": [_leaf(name=ValueError("boom"))], "strict": good},
        "string for a list": {"holders": [holder], "leaves": [_leaf(tags="xy")], "strict": good},
        "int for a string": {"holders": [numbered], "leaves": good, "strict": good},
        "missing attribute": {"holders": [holder], "leaves": [object()], "strict": good},
    }


def _run(schema: strawberry.Schema, context: dict[str, Any], yes: bool) -> tuple[Any, list[Any]]:
    result = asyncio.run(schema.execute(QUERY, {"yes": yes}, context_value=context))
    return result.data, [e.formatted for e in result.errors or []]


@pytest.mark.parametrize("case", list(_contexts()))
@pytest.mark.parametrize("yes", [True, False])
def test_same_answer_as_graphql_core(case: str, yes: bool) -> None:
    context = _contexts()[case]
    assert _run(_schema(True), context, yes) == _run(_schema(False), context, yes)


def test_the_fast_path_is_taken() -> None:
    schema = _schema(True)
    data, errors = _run(schema, _contexts()["plain"], True)
    assert errors == []
    assert data["holders"][0]["leaf"]["ratio"] == "-19.5"  # the Decimal scalar drops trailing zeros
    assert data["holders"][0]["leaves"][1]["colour"] == "GREEN"
    holder = schema._schema.type_map["Holder"]
    assert isinstance(holder, GraphQLObjectType)
    resolve = holder.fields["leaves"].resolve
    assert resolve is not None and resolve.__qualname__.startswith("_direct")
    # A resolver of the object alone is read as a plain field.
    assert GETTER in (holder.fields["own"].extensions or {}) and GETTER in (holder.fields["checked"].extensions or {})


def test_middleware_sees_every_field() -> None:
    seen: list[str] = []

    class Watch(SchemaExtension):
        def resolve(self, _next: Any, root: Any, info: Any, *args: Any, **kwargs: Any) -> Any:
            seen.append(info.field_name)
            return _next(root, info, *args, **kwargs)

    fast = _schema(True, [Watch])
    assert _run(fast, _contexts()["plain"], True) == _run(_schema(False), _contexts()["plain"], True)
    assert seen.count("name") > 4 and "ratio" in seen


def test_plans_shared_by_requests_follow_the_variables() -> None:
    fast, plain = _schema(True), _schema(False)
    context = _contexts()["plain"]
    for yes in (True, False, True, False):
        assert _run(fast, context, yes) == _run(plain, context, yes)
