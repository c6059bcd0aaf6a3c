"""A new chat is titled by the model after its first answer, without delaying it (real server, LiteLLM)."""

from __future__ import annotations

import time

import pytest

from tests.fakes.providers import FakeOpenAI, RecordedRequest, Reply
from tests.fakes.server_process import start_server
from tests.integration.conftest import provider_env
from tests.integration.live_client import LiveClient, disconnect_all
from tests.integration.test_lose_nothing import get_session

pytestmark = pytest.mark.integration

TITLE_DELAY_S = 4.0


def slow_titles(req: RecordedRequest) -> Reply:
    system = next((m["content"] for m in req.json["messages"] if m["role"] == "system"), "")
    if system.startswith("Write a title"):
        return Reply(text='"Pelican Diets."', delay=TITLE_DELAY_S)
    return Reply(text="Pelicans eat fish.")


def test_the_model_titles_a_new_chat_after_its_answer_without_delaying_it(fake_openai: FakeOpenAI, servers):
    server = start_server(provider_env(fake_openai, DIRECTOR_AUTO_TITLE="true"))
    servers.append(server)
    server.wait_until_warm()
    fake_openai.responder = slow_titles
    client = LiveClient(server.url)
    client.sio.on("session_title", client._recorder("session_title"), namespace="/chat")
    try:
        began = time.monotonic()
        final = client.ask("what do pelicans eat, and where do they live?", timeout=60)
        answered_s = time.monotonic() - began
        session_id = final["session_id"]
        assert final["status"] == "success"
        assert answered_s < TITLE_DELAY_S, "the answer did not wait for the title"
        assert get_session(server, session_id)[1]["title"] == "what do pelicans eat, and where do they live?"
        titled = client.wait_for(lambda c: c.of("session_title"), timeout=60)
        # A second turn in the same chat asks for no new title.
        client.ask("and owls?", session_id=session_id, timeout=60)
    finally:
        disconnect_all([client])
    assert titled == [{"session_id": session_id, "title": "Pelican Diets"}]
    assert get_session(server, session_id)[1]["title"] == "Pelican Diets"
    title_requests = [r for r in fake_openai.requests if "Write a title" in str(r.json["messages"][0])]
    assert len(title_requests) == 1
