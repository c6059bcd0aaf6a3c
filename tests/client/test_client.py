"""DirectorClient and AsyncDirectorClient against a real server: typed events, the final message, the
session carried over, errors, and one reconnect when the connection drops mid-turn."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from director.client import (
    AsyncDirectorClient,
    AuthError,
    Delta,
    DirectorClient,
    Final,
    ServerUnreachableError,
    Step,
)
from director.client.sync import chat_payload

from tests.client.conftest import TOKEN
from tests.fakes.providers import Reply
from tests.fakes.server_process import free_port


def test_chat_yields_steps_deltas_and_returns_the_final_message(live_server, fake) -> None:
    fake.script(
        Reply(tool_calls=[("pricing", {"models": ["gpt-4o"]})]),
        Reply(text="gpt-4o costs money.", chunks=["gpt-4o ", "costs ", "money."]),
    )
    with DirectorClient(live_server.url, token=TOKEN) as client:
        turn = client.chat("How much is gpt-4o?")
        events = list(turn)
    assert isinstance(events[-1], Final) and turn.final is events[-1]
    assert turn.final.ok and turn.final.text == "gpt-4o costs money."
    assert "".join(e.text for e in events if isinstance(e, Delta)) == "gpt-4o costs money."
    steps = [e for e in events if isinstance(e, Step)]
    assert [(s.agent, s.status) for s in steps][0] == ("pricing", "progress")
    assert steps[-1].agent == "pricing" and steps[-1].status == "success"
    # Events come in order: the step finished before the answer streamed.
    assert events.index(steps[-1]) < next(i for i, e in enumerate(events) if isinstance(e, Delta))


def test_ask_continues_the_same_session_and_sends_agents(live_server, fake) -> None:
    fake.script(Reply(text="One."), Reply(text="Two."))
    with DirectorClient(live_server.url, token=TOKEN) as client:
        first = client.ask("first")
        second = client.ask("second", agents=["pricing"])
        assert second.session_id == first.session_id == client.session_id
        stored = client.session(first.session_id)
    assert [m["msg_type"] for m in stored["conversation"]] == ["input", "output", "input", "output"]
    assert [t["function"]["name"] for t in fake.requests[1].json["tools"]] == ["pricing"]


def test_the_model_field_is_sent_when_given() -> None:
    assert chat_payload("hi", "m1", None, None, "openai/gpt-4o")["model"] == "openai/gpt-4o"
    assert "model" not in chat_payload("hi", "m1", "s1", ["pricing"], None)


def test_async_client(live_server, fake) -> None:
    fake.script(Reply(text="Async answer."))

    async def run() -> list:
        async with AsyncDirectorClient(live_server.url, token=TOKEN) as client:
            events = [event async for event in client.chat("hello")]
            sessions = await client.sessions()
            return events, sessions

    # In a thread of its own: where Playwright's sync API runs (the e2e tier, in the same pytest worker)
    # the main thread already has a running event loop, and asyncio.run refuses to nest.
    with ThreadPoolExecutor(max_workers=1) as pool:
        events, sessions = pool.submit(asyncio.run, run()).result(timeout=60)
    final = events[-1]
    assert isinstance(final, Final) and final.text == "Async answer."
    assert final.session_id in {s["session_id"] for s in sessions}


def test_reconnects_once_when_the_connection_drops_mid_turn(live_server, fake) -> None:
    words = [f"w{i} " for i in range(30)]
    fake.script(Reply(text="".join(words), chunks=words, chunk_delay=0.1))
    with DirectorClient(live_server.url, token=TOKEN) as client:
        turn = client.chat("long answer please")
        events = []
        for event in turn:
            events.append(event)
            if len([e for e in events if isinstance(e, Delta)]) == 3:
                # Cut the transport under the client, as a network drop would.
                threading.Thread(target=client._sio.eio.disconnect, kwargs={"abort": True}).start()
        assert client.reconnects == 1
    assert turn.final is not None and turn.final.ok
    assert turn.final.text == "".join(words)
    # The first deltas arrived before the drop; the final message holds the whole answer.
    assert "".join(e.text for e in events if isinstance(e, Delta)).startswith("w0 w1 w2 ")


def test_bad_token_and_unreachable_server_are_clear_errors(live_server) -> None:
    with pytest.raises(AuthError), DirectorClient(live_server.url, token="wrong-token-123") as client:
        client.ask("hi")
    with pytest.raises(AuthError), DirectorClient(live_server.url, token="") as client:
        client.ask("hi")
    with pytest.raises(ServerUnreachableError), DirectorClient(f"http://127.0.0.1:{free_port()}") as client:
        client.ask("hi")
