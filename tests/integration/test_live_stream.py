"""A running answer survives a reload, a second tab and a kill -9 (issue 13, streams that survive reloads).

Real server subprocesses, real LiteLLM streaming from the fake OpenAI server, real Socket.IO clients.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.fakes.providers import FakeOpenAI, Reply
from tests.fakes.server_process import start_server
from tests.integration.conftest import provider_env
from tests.integration.live_client import LiveClient, answer_text, disconnect_all
from tests.integration.test_cluster import clients, cluster, joined  # noqa: F401 - fixtures used here
from tests.integration.test_lose_nothing import BACKENDS, db_env, first_delta_session, get_session

pytestmark = pytest.mark.integration

WORDS = [f"wörd{i}🙂 " for i in range(120)]  # non-ASCII on purpose: offsets count code points
SLOW_TEXT = "".join(WORDS)


def rebuild(events: list[tuple[str, Any]], msg_id: str) -> str:
    """The answer text a client builds from whole messages and offset deltas, as the UI does: a delta
    past the end of what it has waits for a snapshot that closes the hole; a repeated part is skipped."""
    text = ""
    waiting: list[tuple[int, str]] = []

    def add(offset: int, delta: str) -> bool:
        nonlocal text
        if offset > len(text):
            return False
        overlap = text[offset:]
        assert delta.startswith(overlap) or overlap.startswith(delta), "a repeated part must agree"
        text += delta[len(overlap) :]
        return True

    for name, payload in events:
        if payload.get("msg_id") != msg_id:
            continue
        if name == "chat" and payload["status"] == "progress":
            snapshot = answer_text(payload)
            assert snapshot.startswith(text) or text.startswith(snapshot), "snapshots are one growing text"
            text = max(text, snapshot, key=len)
        elif name == "chat_delta":
            waiting.append((payload["offset"], payload["delta"]))
        waiting = [item for item in sorted(waiting) if not add(*item)]
    assert waiting == [], "a hole was never closed"
    return text


def test_join_mid_turn_gets_the_text_so_far_then_continues_without_gap_or_repeat(
    fake_openai: FakeOpenAI, servers
):
    server = start_server(provider_env(fake_openai))
    servers.append(server)
    fake_openai.script(Reply(text=SLOW_TEXT, chunks=WORDS, chunk_delay=0.05))
    writer = LiveClient(server.url)
    tabs = [writer]
    try:
        writer.emit("chat", {"content": "write slowly"})
        session_id = first_delta_session(writer, timeout=60)
        writer.wait_for(lambda c: len(c.of("chat_delta")) >= 10)

        # Mid-answer, GET has everything the writer had been sent before it asked.
        seen_before_get = "".join(d["delta"] for d in writer.of("chat_delta"))
        status, body = get_session(server, session_id)
        assert status == 200
        stored = answer_text(body["conversation"][-1])
        assert body["conversation"][-1]["status"] == "progress"
        assert stored.startswith(seen_before_get) and len(stored) < len(SLOW_TEXT)

        # A second tab joins mid-answer: the answer so far, then the deltas continue it.
        second = LiveClient(server.url)
        tabs.append(second)
        second.emit("join", {"session_id": session_id})
        final = second.final_output(session_id, timeout=60)
    finally:
        disconnect_all(tabs)

    assert final["status"] == "success" and answer_text(final) == SLOW_TEXT
    first_chat = second.of("chat")[0]
    assert first_chat["status"] == "progress"
    assert 0 < len(answer_text(first_chat)) < len(SLOW_TEXT), "joined mid-answer: the text so far"
    assert rebuild(second.events, final["msg_id"]) == SLOW_TEXT


@pytest.mark.parametrize("backend", BACKENDS)
def test_kill_9_mid_answer_keeps_all_but_the_last_second(
    fake_openai: FakeOpenAI, servers, backend: str, request: pytest.FixtureRequest
):
    server = start_server(provider_env(fake_openai, **db_env(backend, request)))
    servers.append(server)
    fake_openai.script(Reply(text=SLOW_TEXT, chunks=WORDS, chunk_delay=0.1))
    client = LiveClient(server.url)
    try:
        client.emit("chat", {"content": "write slowly"})
        session_id = first_delta_session(client, timeout=60)
        client.wait_for(lambda c: len(c.of("chat_delta")) >= 30, timeout=60)
        server.kill()
        # What the client had been shown when the server died (deltas still in flight are not in it).
        text_at_kill = "".join(d["delta"] for d in client.of("chat_delta"))
    finally:
        disconnect_all([client])

    server.start()
    status, body = get_session(server, session_id)
    assert status == 200
    cut = body["conversation"][-1]
    assert cut["status"] == "error"  # rewritten at start-up as interrupted, its text kept
    kept = answer_text(cut)
    assert kept, "the streamed text was saved while the model was writing"
    assert SLOW_TEXT.startswith(kept), "what was kept is the answer's beginning, nothing altered"
    # Words arrive every 0.1 s, saves every 0.5 s: of what the client had been shown, at most one
    # second's worth (10 words) may be missing from storage.
    lost_words = text_at_kill[len(kept) :].count("🙂")
    assert lost_words <= 10, f"lost {lost_words} words (more than one second of text)"


@pytest.mark.postgres
def test_a_tab_on_another_process_continues_the_answer_from_storage(
    cluster,  # noqa: F811 - test_cluster's fixture
    clients: list[LiveClient],  # noqa: F811
):
    """Two processes (Redis, PostgreSQL): the turn runs on the first, the tab reloads on the second.

    The second has no live copy: it serves the stored text (at most a save interval old), and the
    deltas relayed through Redis start past it; the turn's next periodic whole message closes the hole."""
    cluster.fake.reset()
    first, second = cluster.servers
    cluster.fake.script(Reply(text=SLOW_TEXT, chunks=WORDS, chunk_delay=0.05))
    writer = LiveClient(first.url)
    clients.append(writer)
    writer.emit("chat", {"content": "write slowly"})
    session_id = first_delta_session(writer, timeout=60)
    writer.wait_for(lambda c: len(c.of("chat_delta")) >= 20)

    reader = LiveClient(second.url)
    clients.append(reader)
    joined(reader, session_id)
    status, body = get_session(second, session_id)
    assert status == 200
    stored = body["conversation"][-1]
    assert stored["status"] == "progress" and answer_text(stored), "saved mid-answer, in the shared DB"
    final = reader.final_output(session_id, timeout=60)

    assert answer_text(final) == SLOW_TEXT
    # What the reloaded tab builds: the stored copy, then what it was sent, in order.
    assert rebuild([("chat", stored), *reader.events], final["msg_id"]) == SLOW_TEXT
