"""A long document is answered like any other, and neither the parse nor the validation cache keeps it."""

from __future__ import annotations

from strawberry.extensions.parser_cache import _get_parse_cache
from strawberry.extensions.validation_cache import _get_validate_cache

from service.speedups.short_caches import LONGEST, PARSED_DOCUMENTS
from tests.e2e.live import GraphQLClient

# Within the token limit (a comment is one token), yet 30,000 characters long.
LONG = "{ plans { id } }\n# " + "x" * 30_000
SHORT = "{ plans { id title } }"


def _misses() -> tuple[int, int]:
    parsed, validated = _get_parse_cache(PARSED_DOCUMENTS), _get_validate_cache(PARSED_DOCUMENTS)
    return parsed.cache_info().misses, validated.cache_info().misses


def test_a_long_document_is_answered_without_being_kept(shared_client: GraphQLClient) -> None:
    assert len(LONG) > LONGEST
    before = _misses()
    first, second = shared_client.post(LONG), shared_client.post(LONG)
    assert first.status_code == second.status_code == 200
    assert "errors" not in first.json() and first.json() == second.json()
    assert _misses() == before  # never looked up, so never stored


def test_a_short_document_is_parsed_and_validated_once(shared_client: GraphQLClient) -> None:
    before = _misses()
    shared_client.execute(SHORT + " ")  # a text no other test sends
    after_first = _misses()
    shared_client.execute(SHORT + " ")
    assert after_first == (before[0] + 1, before[1] + 1)
    assert _misses() == after_first  # the second time, both from the caches
