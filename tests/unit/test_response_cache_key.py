"""A result's cache key is the SHA-256 of one JSON text of everything it depends on but the plans' state."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from service.auth.principal import Principal, Role
from service.response_cache import ResponseCache, visibility

OFFICER = Principal(name="o", roles=frozenset({Role.SUBMITTER}), partnership="P1", themes=frozenset({"b", "a"}))


def whole(build: str, query: str, operation_name: str | None, variables: Any, principal: Principal | None) -> bytes:
    material = [build, query, operation_name, variables, visibility(principal)]
    text = json.dumps(material, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).digest()


@pytest.mark.parametrize(
    ("query", "operation_name", "variables", "principal"),
    [
        ("{ plans { id } }", None, {}, None),
        (
            'query Q($id: ID!) { plan(id: $id) { title } } # "é"',
            "Q",
            {"id": "x", "b": [1, {"z": 2, "a": None}]},
            OFFICER,
        ),
        ("query { a }" * 10_000, None, {"n": 1.5}, OFFICER),  # longer than the documents kept
    ],
)
def test_the_key_is_the_digest_of_the_whole_json(
    query: str, operation_name: str | None, variables: Any, principal: Principal | None
) -> None:
    cache = ResponseCache(max_bytes=1 << 20, build="b1")

    for _ in range(2):  # the document's part made, then kept
        assert cache.key(query, operation_name, variables, principal) == whole(
            "b1", query, operation_name, variables, principal
        )
    assert cache.key(query, operation_name, variables, None) != cache.key(query, operation_name, variables, OFFICER)
