"""Responses are compact JSON, with a compiled read's JSON set in as PostgreSQL wrote it."""

from __future__ import annotations

import json

from service.ws import RawJSON, dumps, encode_message


def test_json_already_written_is_set_in_as_it_is() -> None:
    text = dumps({"data": {"plan": RawJSON('{"id" : "p", "measures" : []}')}, "n": 1})
    assert text == '{"data":{"plan":{"id" : "p", "measures" : []}},"n":1}'
    assert json.loads(text) == {"data": {"plan": {"id": "p", "measures": []}}, "n": 1}


def test_what_orjson_refuses_is_written_escaped_and_a_fragment_still_parses() -> None:
    echoed = {"message": "title: '\ud800' is not text", "plan": RawJSON('{"id":"p"}'), "big": 2**70}
    assert json.loads(dumps(echoed)) == {"message": "title: '\ud800' is not text", "plan": {"id": "p"}, "big": 2**70}


def test_a_live_message_names_its_operation_around_the_shared_data() -> None:
    data = {"statusChanged": {"to": "AT_RISK"}}
    message = encode_message({"id": "op-1", "type": "next", "payload": {"data": data}})
    assert json.loads(message) == {"id": "op-1", "type": "next", "payload": {"data": data}}
