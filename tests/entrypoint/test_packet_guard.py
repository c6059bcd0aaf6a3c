"""What engine.io could not decode is refused before it gets there, checked without parsing JSON."""

from __future__ import annotations

import pytest
from director.entrypoint.api.packet_guard import decodable_frame, decodable_payload
from engineio.payload import Payload


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"40/chat,{}",
        b'42/chat,["chat",{"content":"hi"}]\x1e2',
        b"4" + b"x" * 100,
        b"bYWJj",
        b"b!!!",
        b"d=40",
    ],
)
def test_what_engine_io_decodes_passes(body: bytes) -> None:
    assert decodable_payload(body)
    Payload(encoded_payload=body.decode())  # and engine.io agrees


@pytest.mark.parametrize(
    "body",
    [b"\x1e", b"40\x1e\x1e2", b"x1", b"\xff\xfe", b"bYW", b"d=", b"\x1e".join([b"2"] * 17)],
)
def test_what_engine_io_cannot_decode_is_refused(body: bytes) -> None:
    assert not decodable_payload(body)
    with pytest.raises(Exception):  # noqa: B017 - engine.io raises several kinds
        Payload(encoded_payload=body.decode("utf-8"))


def test_frames() -> None:
    assert decodable_frame(b"\x00binary") and decodable_frame("2probe")
    assert not decodable_frame("") and not decodable_frame("z")
