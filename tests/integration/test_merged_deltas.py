"""A fast stream's deltas are merged on the wire (core/delta_batcher.py) and clients still get every character.

Real server subprocess, real LiteLLM streaming from the fake OpenAI server (a chunk every 5 ms, far faster than
one delta per 40 ms), real Socket.IO clients.
"""

from __future__ import annotations

import pytest

from tests.fakes.providers import FakeOpenAI, Reply
from tests.fakes.server_process import start_server
from tests.integration.conftest import provider_env
from tests.integration.live_client import LiveClient, answer_text, disconnect_all
from tests.integration.test_live_stream import rebuild
from tests.integration.test_lose_nothing import first_delta_session, get_session

pytestmark = pytest.mark.integration

WORDS = [f"wörd{i}🙂 " for i in range(300)]  # non-ASCII on purpose: offsets count code points
TEXT = "".join(WORDS)
CHUNK_DELAY_S = 0.005


def test_merged_deltas_spell_the_answer_in_order_and_a_tab_joining_mid_turn_catches_up(
    fake_openai: FakeOpenAI, servers
):
    server = start_server(provider_env(fake_openai))
    servers.append(server)
    fake_openai.script(Reply(text=TEXT, chunks=WORDS, chunk_delay=CHUNK_DELAY_S))
    writer = LiveClient(server.url)
    tabs = [writer]
    try:
        writer.emit("chat", {"content": "write fast"})
        session_id = first_delta_session(writer, timeout=60)
        second = LiveClient(server.url)
        tabs.append(second)
        second.emit("join", {"session_id": session_id})
        final = writer.final_output(session_id, timeout=60)
        second.final_output(session_id, timeout=60)
        status, body = get_session(server, session_id)
    finally:
        disconnect_all(tabs)

    assert final["status"] == "success" and answer_text(final) == TEXT
    assert status == 200 and answer_text(body["conversation"][-1]) == TEXT, "what was sent is what was saved"
    deltas = [d for d in writer.of("chat_delta") if d["msg_id"] == final["msg_id"]]
    # The deltas alone spell the answer: each starts where the previous one ended, nothing missing.
    text = ""
    for delta in deltas:
        assert delta["offset"] == len(text)
        text += delta["delta"]
    assert text == TEXT
    assert len(deltas) < len(WORDS) / 2, "the stream's chunks were merged"
    # The tab that joined mid-turn builds the same answer from what it was sent (snapshot, then deltas).
    assert rebuild(second.events, final["msg_id"]) == TEXT
