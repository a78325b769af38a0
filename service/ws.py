"""The graphql-transport-ws handler: every error it sends has our `extensions.code`, unexpected ones masked."""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from typing import Any, ClassVar

import orjson
from graphql import GraphQLSyntaxError, parse
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler
from strawberry.subscriptions.protocols.graphql_transport_ws.types import Message, SubscribeMessage

from service.graphql_request import UnreadableJSON
from service.limits import token_refusal
from service.schema import LIMITS
from service.schema.errors import error

log = logging.getLogger(__name__)


class LedgerTransportWSHandler(BaseGraphQLTransportWSHandler[Any, Any]):
    """Strawberry's handler; a subscription over the per-connection limit gets `LIMIT_EXCEEDED`, and
    errors without a code get one (as over HTTP)."""

    # This process's open connections (and service/speedups/live_delivery.py's), counted by service/metrics.py.
    connections: ClassVar[set[Any]] = set()

    async def handle(self) -> None:
        LedgerTransportWSHandler.connections.add(self)
        try:
            await super().handle()
        except UnreadableJSON as e:
            # As the protocol closes on any other malformed message, with the reason said.
            await self.handle_invalid_message(f"WebSocket message must be valid JSON: {e}")
        finally:
            LedgerTransportWSHandler.connections.discard(self)

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        limit = self.max_subscriptions_per_connection
        # Strawberry makes the same check but sends an error without extensions.code.
        if (
            self.connection_acknowledged
            and limit is not None
            and message["id"] not in self.operations
            and len(self.operations) >= limit
        ):
            await self.send_message({"id": message["id"], "type": "error", "payload": [self.refusal(limit)]})
            return
        # A document refused while it is parsed (too many tokens, a syntax error) makes the parsing extensions
        # raise, which over WebSocket is only logged and answered with `complete`: refuse it here, as an `error`.
        payload = message.get("payload")
        query = payload.get("query") if isinstance(payload, dict) else None
        if self.connection_acknowledged and isinstance(query, str) and (refused := _unparsable(query)):
            await self.send_message({"id": message["id"], "type": "error", "payload": [refused]})
            return
        await super().handle_subscribe(message)

    async def send_message(self, message: Message) -> None:
        await super().send_message(_coded(message))

    @staticmethod
    def refusal(limit: int) -> dict[str, Any]:
        """The error of a subscription past the per-connection limit."""
        return error(
            "LIMIT_EXCEEDED",
            f"at most {limit} subscriptions may run on one connection; complete one or open another connection",
        ).formatted


def _unparsable(query: str) -> dict[str, Any] | None:
    """The coded error of a document with too many tokens or a syntax error; None if it parses."""
    if refused := token_refusal(query, LIMITS.config):
        return refused.formatted
    try:
        parse(query)  # at most max_tokens tokens by now: cheap
    except GraphQLSyntaxError as e:
        return {**e.formatted, "extensions": {"code": "VALIDATION"}}
    return None


def _coded(message: Any) -> Any:
    """Every error of an outgoing message with `extensions.code`, as service/http.py gives them over HTTP.

    An `error` message's errors came before execution: VALIDATION. A `next` message's error with a path
    and no code was raised by something nobody expected: INTERNAL, with its detail kept for the log only.
    """
    kind, payload = message.get("type"), message.get("payload")
    if kind == "error" and isinstance(payload, list):
        return {**message, "payload": [_code(e, "VALIDATION") for e in payload]}
    if kind == "next" and isinstance(payload, dict) and payload.get("errors"):
        errors = [
            _code(e, "INTERNAL" if isinstance(e, dict) and e.get("path") else "VALIDATION") for e in payload["errors"]
        ]
        return {**message, "payload": {**payload, "errors": errors}}
    return message


def _code(formatted: Any, code: str) -> Any:
    if not isinstance(formatted, dict) or "code" in (formatted.get("extensions") or {}):
        return formatted
    if code == "VALIDATION":
        return {**formatted, "extensions": {**(formatted.get("extensions") or {}), "code": code}}
    log.error("WebSocket operation failed at %s: %s", formatted.get("path"), formatted.get("message"))
    masked = {"message": "Internal server error", "extensions": {"code": code}}
    return masked | {k: formatted[k] for k in ("path", "locations") if k in formatted}


# id(data) -> (data, its JSON): the `data` of a live message, encoded once for all who receive it.
# Holding `data` keeps its id from being reused while the entry lives.
_ENCODED: OrderedDict[int, tuple[object, str]] = OrderedDict()
_ENCODED_SIZE = 64


def encode_message(message: object) -> str:
    """JSON of an outgoing message; a `next` message's data is encoded once however many receive it.

    A live event's result is shared by its subscribers (service/speedups/shared_results.py),
    so only the operation id differs between their messages.
    """
    if isinstance(message, dict) and message.get("type") == "next" and message.keys() == {"id", "type", "payload"}:
        payload = message["payload"]
        if isinstance(payload, dict) and payload.keys() == {"data"}:
            data = payload["data"]
            cached = _ENCODED.get(id(data))
            if cached is None or cached[0] is not data:
                cached = (data, dumps(data))
                _ENCODED[id(data)] = cached
                if len(_ENCODED) > _ENCODED_SIZE:
                    _ENCODED.popitem(last=False)
            return f'{{"id":{dumps(message["id"])},"type":"next","payload":{{"data":{cached[1]}}}}}'
    return dumps(message)


class RawJSON:
    """JSON written already (a compiled read's, service/speedups/compiled_reads.py): set into a message as it is.

    A plain class: orjson would write a dataclass as an object of its fields.
    """

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def dumps(value: object) -> str:
    """Compact JSON, with any `RawJSON` in it set in as it is.

    orjson: about a twentieth of the json module's time for a dashboard. What it refuses (a lone surrogate
    echoed from an input, an integer past 64 bits) the json module writes, escaped.
    """
    try:
        return orjson.dumps(value, default=_fragment).decode()
    except orjson.JSONEncodeError:
        return json.dumps(value, separators=(",", ":"), default=_parsed)


def _fragment(value: object) -> orjson.Fragment:
    if isinstance(value, RawJSON):
        return orjson.Fragment(value.text)
    raise TypeError(f"{type(value).__name__} is not JSON")


def _parsed(value: object) -> object:
    if isinstance(value, RawJSON):
        return orjson.loads(value.text)
    raise TypeError(f"{type(value).__name__} is not JSON")
