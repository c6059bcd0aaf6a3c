"""Images attached to a message: checked at the edge, stored with the message, sent to vision models as
image parts, refused before any call for a model without vision, and left out of a later non-vision
model's context. Through the real LiteLLM adapter and a fake OpenAI server."""

from __future__ import annotations

import base64

import pytest
from director.agents import build_agents
from director.core.images import MAX_IMAGE_BYTES, OMITTED_TEXT, parse_image_part, user_content
from director.core.reasoning import EngineLimits, ReasoningEngine
from director.core.session import MsgStatus, Session
from director.errors import BadPayloadError

from tests.core.memory_db import MemoryDB
from tests.fakes.providers import FakeOpenAI, Reply, make_litellm

# The smallest valid PNG: 1x1, one transparent pixel.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
PNG_URL = "data:image/png;base64," + base64.b64encode(PNG).decode()


def image(url: str = PNG_URL) -> dict:
    return {"type": "image_url", "image_url": {"url": url}}


def test_an_image_part_is_checked_and_normalised() -> None:
    assert parse_image_part(image()) == image()
    assert parse_image_part({"type": "image_url", "image_url": PNG_URL}) == image()  # the url as a string
    bad = [
        image("https://example.com/cat.png"),  # would make the provider fetch any address
        image("data:image/svg+xml;base64,PHN2Zz4="),
        image("data:image/png;base64,not base64!"),
        image("data:image/jpeg;base64," + base64.b64encode(PNG).decode()),  # PNG bytes called JPEG
        image(
            "data:image/png;base64,"
            + base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"0" * MAX_IMAGE_BYTES).decode()
        ),
        {"type": "image_url", "image_url": {"url": 7}},
    ]
    for part in bad:
        with pytest.raises(BadPayloadError) as info:
            parse_image_part(part)
        assert info.value.code == "invalid_image"


def _turn(llm, db: MemoryDB, emit, session: Session | None = None, text: str = "What is this?", images=()):
    session = session or Session(db, emit=emit)
    session.create(text)
    message = session.new_input_message(text)
    message.images = list(images)
    engine = ReasoningEngine(session, llm, build_agents(llm), emit, EngineLimits())
    return session, engine.run(message)


@pytest.mark.integration
def test_a_vision_model_gets_the_image_and_a_later_text_model_a_note(
    fake_openai: FakeOpenAI, db: MemoryDB, emit
) -> None:
    vision = make_litellm(fake_openai, model="openai/gpt-4o")
    assert vision.supports_vision
    fake_openai.script(Reply(text="A transparent pixel."), Reply(text="Still a pixel."))
    session, first = _turn(vision, db, emit, images=[image()])
    assert first.status == MsgStatus.SUCCESS
    sent = fake_openai.requests[0].json["messages"][-1]
    assert sent["role"] == "user"
    assert sent["content"] == [{"type": "text", "text": "What is this?"}, image()]
    stored = [m for m in db.get_conversations(session.session_id) if m["msg_type"] == "input"]
    assert stored[0]["images"] == [image()]  # kept with the message, for the history after a reload

    text_only = make_litellm(fake_openai, model="openai/gpt-3.5-turbo")
    assert text_only.supports_vision is False
    _turn(text_only, db, emit, session=session, text="Describe it again")
    replay = fake_openai.requests[1].json["messages"]
    assert "image_url" not in str(replay) and OMITTED_TEXT in str(replay)


def test_user_content() -> None:
    assert user_content("hi", []) == "hi"
    assert user_content("", [image()]) == [image()]
