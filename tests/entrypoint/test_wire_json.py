"""The hardened JSON module Socket.IO decodes packets with."""

from __future__ import annotations

import pytest
from director.entrypoint.api import wire_json
from director.entrypoint.api.payloads import ErrorCode, parse_chat
from director.errors import BadPayloadError


def test_ordinary_packets_decode_normally():
    assert wire_json.loads('["chat", {"content": "hi"}]') == ["chat", {"content": "hi"}]


@pytest.mark.parametrize(
    "packet",
    ['["chat", ' + "[" * 100_000 + "]" * 100_000 + "]", '["stop", {"session_id": ' + "1" * 500 + "}]"],
)
def test_hostile_packets_keep_their_event_with_an_undecodable_payload(packet):
    event, payload = wire_json.loads(packet)
    assert event == packet[2:6]
    assert payload is wire_json.UNDECODABLE
    with pytest.raises(BadPayloadError) as info:
        parse_chat(payload, ["echo"], 100)
    assert info.value.code == ErrorCode.INVALID_PAYLOAD


def test_garbage_without_an_event_name_is_still_refused():
    with pytest.raises(ValueError):
        wire_json.loads("[" * 100_000)
