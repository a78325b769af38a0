"""The GraphQL schema, built once per process."""

from __future__ import annotations

import decimal

import strawberry
from strawberry.extensions import ParserCache, ValidationCache
from strawberry.schema.config import StrawberryConfig

from service.schema.mutations import Mutation
from service.schema.queries import Query
from service.schema.scalars import DecimalScalar


def build_schema() -> strawberry.Schema:
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        config=StrawberryConfig(scalar_map={decimal.Decimal: DecimalScalar}),
        extensions=[lambda: ParserCache(maxsize=256), lambda: ValidationCache(maxsize=256)],
    )


def schema_sdl() -> str:
    """The schema as served, for schema.graphql."""
    return build_schema().as_str() + "\n"
