"""Compressed responses: gzip when the client accepts it, cached results compressed once, an ETag per encoding.

Over real HTTP against the whole service with the 2012-13 plan: raw bytes are read with `iter_raw`, so what
is checked is what crossed the wire.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from service import compression
from service.auth.tokens import create_token
from service.compression import accepts_gzip
from tests.e2e import documents as doc
from tests.e2e.demo import serving_demo
from tests.e2e.live import LiveServer


@pytest.fixture(scope="module")
def demo(shared_database: str) -> Iterator[tuple[LiveServer, str, str]]:
    """A service holding the 2012-13 plan: its server, the plan's id and an operator's token."""
    with serving_demo(shared_database) as (server, plan_id):
        yield server, str(plan_id), create_token(shared_database, "operator@ledger.example")


def raw_post(url: str, token: str, body: dict[str, Any], **headers: str) -> tuple[httpx.Response, bytes]:
    """A POST to /graphql and the bytes that came back, undecoded."""
    sent = {"authorization": f"Bearer {token}", "accept": "application/json", **headers}
    with httpx.stream("POST", url + "/graphql", json=body, headers=sent, timeout=30) as response:
        return response, b"".join(response.iter_raw())


def dashboard(
    demo: tuple[LiveServer, str, str], encoding: str, held: str | None = None, document: str = doc.DASHBOARD
) -> tuple[httpx.Response, bytes]:
    """The plan's dashboard asked for with `accept-encoding: encoding`, by a client holding the ETag `held`."""
    server, plan_id, token = demo
    headers = {"accept-encoding": encoding, **({"if-none-match": held} if held else {})}
    return raw_post(server.url, token, {"query": document, "variables": {"id": plan_id}}, **headers)


def test_a_dashboard_is_gzipped_for_clients_that_accept_it_and_plain_for_those_that_do_not(
    demo: tuple[LiveServer, str, str],
) -> None:
    plain, plain_bytes = dashboard(demo, "identity")
    zipped, zipped_bytes = dashboard(demo, "gzip, deflate, br")

    assert "content-encoding" not in plain.headers
    assert zipped.headers["content-encoding"] == "gzip"
    assert gzip.decompress(zipped_bytes) == plain_bytes
    assert "errors" not in json.loads(plain_bytes)
    # JSON of figures repeats its field names on every object; the ids and free text compress less.
    assert len(zipped_bytes) * 5 < len(plain_bytes), (len(zipped_bytes), len(plain_bytes))
    for response in (plain, zipped):
        assert response.headers["vary"] == "Authorization, Accept, Accept-Encoding"


def test_a_cached_result_is_compressed_once_and_served_compressed_from_then_on(
    demo: tuple[LiveServer, str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    compressed: list[int] = []
    original = compression.gzip_bytes

    def counted(body: bytes) -> bytes:
        compressed.append(len(body))
        return original(body)

    monkeypatch.setattr(compression, "gzip_bytes", counted)
    # A document of its own, so that no other test has cached it.
    own = doc.DASHBOARD + "\n# compressed once"

    responses = [dashboard(demo, "gzip", document=own) for _ in range(3)]

    assert [r.headers["x-cache"] for r, _ in responses] == ["miss", "hit", "hit"]
    assert len(compressed) == 1
    assert len({raw for _, raw in responses}) == 1
    assert len({r.headers["etag"] for r, _ in responses}) == 1


def test_each_encoding_has_its_own_etag_and_a_client_holding_either_gets_a_304(
    demo: tuple[LiveServer, str, str],
) -> None:
    plan_id = demo[1]
    plain, _ = dashboard(demo, "identity")
    zipped, _ = dashboard(demo, "gzip")
    assert plain.headers["etag"] != zipped.headers["etag"]
    assert zipped.headers["etag"].startswith('"')  # strong: these exact bytes

    held_zipped, _ = dashboard(demo, "gzip", held=zipped.headers["etag"])
    # It accepted only identity before and accepts gzip now: what it holds is still current.
    held_plain, _ = dashboard(demo, "gzip", held=plain.headers["etag"])
    # It holds the gzip bytes but accepts them no longer: it gets the identity bytes.
    refused, refused_bytes = dashboard(demo, "identity", held=zipped.headers["etag"])

    assert (held_zipped.status_code, held_zipped.headers["etag"]) == (304, zipped.headers["etag"])
    assert (held_plain.status_code, held_plain.headers["etag"]) == (304, plain.headers["etag"])
    assert refused.status_code == 200
    assert "content-encoding" not in refused.headers
    assert json.loads(refused_bytes)["data"]["plan"]["id"] == plan_id


def test_a_client_refusing_gzip_gets_the_identity_bytes_under_their_etag(demo: tuple[LiveServer, str, str]) -> None:
    plain, plain_bytes = dashboard(demo, "identity")

    refusing, refusing_bytes = dashboard(demo, "gzip;q=0, identity")

    assert "content-encoding" not in refusing.headers
    assert (refusing.headers["etag"], refusing_bytes) == (plain.headers["etag"], plain_bytes)


def test_uncached_answers_are_compressed_on_the_way_out_and_small_ones_are_not(
    demo: tuple[LiveServer, str, str],
) -> None:
    server, plan_id, token = demo
    # auditTrail with a filter on one plan is executed every time (nothing to validate it by): still gzipped.
    trail = {"query": "query($p: ID!) { auditDigest { position } plan(id: $p) { measures { id title } } }"}
    large, large_bytes = raw_post(
        server.url, token, {**trail, "variables": {"p": plan_id}}, **{"accept-encoding": "gzip"}
    )
    small, small_bytes = raw_post(server.url, token, {"query": "{ __typename }"}, **{"accept-encoding": "gzip"})

    assert "etag" not in large.headers
    assert large.headers["content-encoding"] == "gzip"
    assert "errors" not in json.loads(gzip.decompress(large_bytes))
    assert "content-encoding" not in small.headers
    assert json.loads(small_bytes) == {"data": {"__typename": "Query"}}


def test_exports_are_compressed_too(demo: tuple[LiveServer, str, str]) -> None:
    server, plan_id, token = demo
    with httpx.stream(
        "GET",
        f"{server.url}/plans/{plan_id}/export",
        params={"format": "csv"},
        headers={"authorization": f"Bearer {token}", "accept-encoding": "gzip"},
        timeout=30,
    ) as response:
        raw = b"".join(response.iter_raw())

    assert response.status_code == 200
    assert response.headers["content-encoding"] == "gzip"
    assert gzip.decompress(raw).decode().startswith("theme,measure,component,quarter")


@pytest.mark.parametrize(
    ("header", "accepted"),
    [
        ("gzip", True),
        ("gzip, deflate, br, zstd", True),
        ("br;q=1.0, gzip;q=0.8, *;q=0.1", True),
        ("*", True),
        ("x-gzip", True),
        ("GZIP", True),
        ("gzip;q=0", False),
        ("identity", False),
        ("br", False),
        ("*;q=0", False),
        ("gzip;q=0, *", False),
        ("", False),
        (None, False),
    ],
)
def test_accept_encoding_is_read_with_its_weights(header: str | None, accepted: bool) -> None:
    assert accepts_gzip(header) is accepted
