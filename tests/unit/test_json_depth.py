"""JSON is refused past MAX_JSON_DEPTH levels of arrays and objects, and read whole up to it."""

from __future__ import annotations

import pytest

from service.graphql_request import MAX_JSON_DEPTH, NestedTooDeep, decode_json


@pytest.mark.parametrize("opening", ["[", '{"a":'])
def test_the_deepest_allowed_is_read_and_one_level_more_refused(opening: str) -> None:
    closing = "]" if opening == "[" else "}"

    def nested(depth: int) -> str:
        return opening * depth + ("1" if opening != "[" else "") + closing * depth

    assert decode_json(nested(MAX_JSON_DEPTH)) is not None
    with pytest.raises(NestedTooDeep):
        decode_json(nested(MAX_JSON_DEPTH + 1))
    with pytest.raises(NestedTooDeep):
        decode_json(nested(MAX_JSON_DEPTH + 1).encode())


def test_brackets_inside_strings_are_not_levels() -> None:
    text = '{"query": "' + "{" * 100 + '", "variables": {"a": [1]}}'

    assert decode_json(text) == {"query": "{" * 100, "variables": {"a": [1]}}
