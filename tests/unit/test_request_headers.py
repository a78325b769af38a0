"""The GraphQL view's request headers answer `get` as Starlette's Headers does."""

from __future__ import annotations

import pytest
from starlette.datastructures import Headers

from service.http import _Headers

RAW = [(b"accept", b"application/json"), (b"x-twice", b"first"), (b"x-twice", b"second"), (b"x-latin", b"caf\xe9")]


@pytest.mark.parametrize("name", ["accept", "Accept", "x-twice", "X-TWICE", "x-latin", "if-none-match", ""])
def test_get_answers_as_starlettes_headers(name: str) -> None:
    scope = {"type": "http", "headers": RAW}

    assert _Headers(scope).get(name) == Headers(scope=scope).get(name)
    assert _Headers(scope).get(name, "absent") == Headers(scope=scope).get(name, "absent")
    assert _Headers(scope).getlist(name) == Headers(scope=scope).getlist(name)
