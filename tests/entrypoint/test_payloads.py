"""Validation and normalisation of what clients send on /chat (payloads.py)."""

from __future__ import annotations

import pytest
from director.entrypoint.api.payloads import parse_chat, parse_session_ref
from director.errors import BadPayloadError

AGENTS = {"echo"}


def chat(payload):
    return parse_chat(payload, AGENTS, max_chars=100)


@pytest.mark.parametrize("bad_id", ["nl-test\n", "nl-test\r\n", "\nnl-test", "a b", "x" * 129])
def test_ids_must_match_in_full(bad_id):
    with pytest.raises(BadPayloadError) as err:
        chat({"content": "hi", "session_id": bad_id})
    assert err.value.code == "invalid_id"
    with pytest.raises(BadPayloadError) as err:
        parse_session_ref({"session_id": bad_id})
    assert err.value.code == "invalid_id"


def test_good_ids_pass():
    request = chat({"content": "hi", "session_id": "s-1.a:b_C", "conv_id": "c" * 128, "msg_id": "m"})
    assert (request.session_id, request.conv_id, request.client_msg_id) == ("s-1.a:b_C", "c" * 128, "m")


def test_text_is_normalised_at_the_edge():
    request = chat({"content": [{"type": "text", "text": "bad \udfff"}, {"type": "text", "text": "n\x00ul"}]})
    assert request.text_parts == ["bad \ufffd", "nul"]
    request.text.encode("utf-8")


def test_a_message_of_only_nul_characters_is_empty():
    with pytest.raises(BadPayloadError) as err:
        chat({"content": "\x00\x00"})
    assert err.value.code == "invalid_content"


def test_the_length_limit_is_checked_before_normalising():
    # Counting first keeps a huge message cheap to refuse; what is sent counts, NUL included.
    assert chat({"content": "x" * 95 + "\x00" * 5}).text == "x" * 95
    with pytest.raises(BadPayloadError) as err:
        chat({"content": "x" * 100 + "\x00"})
    assert err.value.code == "message_too_long"


# -- images and per-chat model settings (issue 11) --

PNG_URL = (
    "data:image/png;base64,"
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
IMAGE = {"type": "image_url", "image_url": {"url": PNG_URL}}


def test_image_parts_are_taken_beside_text_or_alone() -> None:
    request = chat({"content": [{"type": "text", "text": "what is it?"}, IMAGE]})
    assert request.text == "what is it?" and request.images == [IMAGE]
    alone = chat({"content": [IMAGE]})
    assert alone.text_parts == [] and alone.images == [IMAGE]


@pytest.mark.parametrize(
    "content",
    [
        [{"type": "image_url", "image_url": {"url": "http://10.0.0.1/x.png"}}],
        [IMAGE] * 5,
        [{"type": "image_url"}],
    ],
)
def test_bad_images_are_refused(content: list) -> None:
    with pytest.raises(BadPayloadError) as info:
        chat({"content": content})
    assert info.value.code == "invalid_image"


def test_model_settings_in_a_chat() -> None:
    request = chat({"content": "hi", "model": "anthropic/claude-x", "reasoning_effort": "Low"})
    assert request.settings == {"model": "anthropic/claude-x", "reasoning_effort": "low"}
    assert chat({"content": "hi", "model": None}).settings == {}
    with pytest.raises(BadPayloadError) as info:
        chat({"content": "hi", "reasoning_effort": "max"})
    assert info.value.code == "invalid_reasoning_effort"
