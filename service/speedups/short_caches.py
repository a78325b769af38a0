"""Strawberry's parse and validation caches, kept to documents short enough to keep.

Both caches hold 256 entries, whatever their size. A text within the token limit (service/limits.py)
can still be large: one string literal, or one comment, may be most of a megabyte-long body, and 256
such documents parsed, validated and kept would hold hundreds of MB. Clients repeat short documents
(a dashboard's, a form's); a longer one is parsed and validated each time and kept by neither cache.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from graphql.language.parser import parse
from strawberry.extensions import ParserCache, ValidationCache
from strawberry.schema.schema import validate_document

# Characters: as service/limits.py keeps the texts it has counted.
LONGEST = 20_000
# Documents each process keeps parsed and validated.
PARSED_DOCUMENTS = 256


def _cached_if_short(
    query: str | None, cached: Callable[[], Iterator[None]], uncached: Callable[[], None]
) -> Iterator[None]:
    """A hook's steps: strawberry's cached ones for a short document, else the work done uncached."""
    if len(query or "") <= LONGEST:
        yield from cached()
        return
    uncached()
    yield


class ShortParserCache(ParserCache):
    def on_parse(self) -> Iterator[None]:
        context = self.execution_context

        def uncached() -> None:
            context.graphql_document = parse(context.query, **context.parse_options)  # type: ignore[arg-type]

        yield from _cached_if_short(context.query, super().on_parse, uncached)


class ShortValidationCache(ValidationCache):
    def on_validate(self) -> Iterator[None]:
        context = self.execution_context

        def uncached() -> None:
            assert context.graphql_document is not None  # parsed just before, or parsing failed and this is not run
            context.pre_execution_errors = validate_document(
                context.schema._schema, context.graphql_document, context.validation_rules
            )

        yield from _cached_if_short(context.query, super().on_validate, uncached)


def caches() -> list[Any]:
    """The two caches, as schema extensions (factories: strawberry makes one of each per request)."""
    return [lambda: ShortParserCache(maxsize=PARSED_DOCUMENTS), lambda: ShortValidationCache(maxsize=PARSED_DOCUMENTS)]
