"""The compression middleware sends what Starlette's responders would, with Vary naming each header once, whether
it sends a response on as it is or through a responder."""

from __future__ import annotations

import gzip
from typing import Any

import pytest
from starlette.datastructures import MutableHeaders
from starlette.middleware.gzip import GZipMiddleware, IdentityResponder
from starlette.types import Message, Receive, Scope, Send

from service import compression

BIG = b"x" * 2000
SMALL = b"x" * 10


def answering(headers: list[tuple[bytes, bytes]], bodies: list[bytes], status: int = 200) -> Any:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": status, "headers": list(headers)})
        for i, body in enumerate(bodies):
            await send({"type": "http.response.body", "body": body, "more_body": i < len(bodies) - 1})

    return app


def reference(app: Any) -> Any:
    """Starlette's responder as `compression.accepts_gzip` chooses it, then each name once in Vary."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        async def vary_once(message: Message) -> None:
            if message["type"] == "http.response.start" and any(k.lower() == b"vary" for k, _ in message["headers"]):
                headers = MutableHeaders(raw=message["headers"])
                names = {name.strip().lower(): name.strip() for name in reversed(headers["vary"].split(","))}
                headers["vary"] = ", ".join(reversed(names.values()))
            await send(message)

        accept_encoding = dict(scope["headers"]).get(b"accept-encoding", b"").decode()
        if compression.accepts_gzip(accept_encoding):
            await GZipMiddleware(app, compression.MIN_BYTES, compression.LEVEL)(scope, receive, vary_once)
        else:
            await IdentityResponder(app, compression.MIN_BYTES)(scope, receive, vary_once)

    return middleware


async def sent(app: Any, accept_encoding: str | None) -> list[Message]:
    headers = [] if accept_encoding is None else [(b"accept-encoding", accept_encoding.encode())]
    scope = {"type": "http", "method": "GET", "path": "/", "headers": headers}
    messages: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        messages.append(message)

    await app(scope, receive, send)
    return messages


JSON = (b"content-type", b"application/json")
CASES = {
    "cached gzip result": ([JSON, (b"content-encoding", b"gzip"), (b"vary", b"Authorization, Accept-Encoding")], [BIG]),
    "cached identity result": ([JSON, (b"vary", b"Authorization, Accept, Accept-Encoding")], [BIG]),
    "Accept-Encoding not last": ([JSON, (b"vary", b"Accept-Encoding, Authorization")], [BIG]),
    "a name twice": ([JSON, (b"content-encoding", b"gzip"), (b"vary", b"Accept, accept")], [BIG]),
    "two Vary headers": ([JSON, (b"vary", b"Accept-Encoding"), (b"vary", b"Origin")], [BIG]),
    "no Vary": ([JSON], [BIG]),
    "small": ([JSON, (b"vary", b"Authorization")], [SMALL]),
    "small with Accept-Encoding": ([JSON, (b"vary", b"Accept-Encoding")], [SMALL]),
    "streamed": ([JSON, (b"vary", b"Accept-Encoding")], [BIG, BIG]),
    "excluded type": ([(b"content-type", b"image/png")], [BIG]),
}


@pytest.mark.parametrize("accept_encoding", [None, "gzip", "gzip;q=0", "*", "identity"])
@pytest.mark.parametrize("case", list(CASES))
async def test_what_is_sent_is_what_starlettes_responders_send(case: str, accept_encoding: str | None) -> None:
    headers, bodies = CASES[case]
    app = answering(headers, bodies)

    ours = await sent(compression.middleware().cls(app, **compression.middleware().kwargs), accept_encoding)
    theirs = await sent(reference(app), accept_encoding)

    assert ours == theirs


async def test_a_response_already_encoded_is_sent_on_untouched() -> None:
    headers, bodies = CASES["cached gzip result"]

    ours = await sent(
        compression.middleware().cls(answering(headers, bodies), **compression.middleware().kwargs), "gzip"
    )

    assert ours[0]["headers"] == headers
    assert ours[1]["body"] == BIG


async def test_a_plain_response_is_compressed_for_a_client_taking_gzip() -> None:
    app = answering([JSON], [BIG])

    ours = await sent(compression.middleware().cls(app, **compression.middleware().kwargs), "gzip")

    assert (b"content-encoding", b"gzip") in ours[0]["headers"]
    assert (b"vary", b"Accept-Encoding") in ours[0]["headers"]
    assert gzip.decompress(ours[1]["body"]) == BIG
