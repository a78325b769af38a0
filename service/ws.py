"""The graphql-transport-ws handler, with our error codes on its own refusals."""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any

from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler
from strawberry.subscriptions.protocols.graphql_transport_ws.types import SubscribeMessage

from service.schema.errors import error


class LedgerTransportWSHandler(BaseGraphQLTransportWSHandler[Any, Any]):
    """Strawberry's handler; a subscription over the per-connection limit gets `LIMIT_EXCEEDED`."""

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        limit = self.max_subscriptions_per_connection
        # Strawberry makes the same check but sends an error without extensions.code.
        if (
            self.connection_acknowledged
            and limit is not None
            and message["id"] not in self.operations
            and len(self.operations) >= limit
        ):
            refusal = error(
                "LIMIT_EXCEEDED",
                f"at most {limit} subscriptions may run on one connection; complete one or open another connection",
            )
            await self.send_message({"id": message["id"], "type": "error", "payload": [refusal.formatted]})
            return
        await super().handle_subscribe(message)


# id(data) -> (data, its JSON): the `data` of a live message, encoded once for all who receive it.
# Holding `data` keeps its id from being reused while the entry lives.
_ENCODED: OrderedDict[int, tuple[object, str]] = OrderedDict()
_ENCODED_SIZE = 64


def encode_message(message: object) -> str:
    """JSON of an outgoing message; a `next` message's data is encoded once however many receive it.

    A live event's result is shared by its subscribers (service/schema/shared_results.py),
    so only the operation id differs between their messages.
    """
    if isinstance(message, dict) and message.get("type") == "next" and message.keys() == {"id", "type", "payload"}:
        payload = message["payload"]
        if isinstance(payload, dict) and payload.keys() == {"data"}:
            data = payload["data"]
            cached = _ENCODED.get(id(data))
            if cached is None or cached[0] is not data:
                cached = (data, json.dumps(data, separators=(",", ":")))
                _ENCODED[id(data)] = cached
                if len(_ENCODED) > _ENCODED_SIZE:
                    _ENCODED.popitem(last=False)
            return f'{{"id":{json.dumps(message["id"])},"type":"next","payload":{{"data":{cached[1]}}}}}'
    return json.dumps(message, separators=(",", ":"))
