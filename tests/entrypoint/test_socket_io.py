"""The /chat namespace with socketio.test_client: protocol, validation, busy sessions, stop, auth."""

from __future__ import annotations

import threading
import time

import pytest
from director.core.reasoning import ReasoningEngine
from director.entrypoint.api import socket_io

from tests.entrypoint.conftest import WAIT_S, ChatClient, Server, blocking_stream
from tests.fakes.scripted_llm import ScriptedLLM, ScriptedStream, text_response, tool_call, tool_response


def test_plain_answer_streams_then_sends_final_message(make_server):
    server = make_server(ScriptedLLM(text_response("Hello there, friend")))
    client = server.client()

    client.emit("chat", {"content": "hi", "msg_id": "client-1", "extra": "ignored"})
    final = client.final_output()

    inputs = [m for m in client.of("chat") if m["msg_type"] == "input"]
    assert len(inputs) == 1 and inputs[0]["content"][0]["text"] == "hi"
    assert inputs[0]["client_msg_id"] == "client-1"
    assert inputs[0]["msg_id"] != "client-1"  # ids are the server's
    assert final["status"] == "success"
    answer = [b for b in final["content"] if b["agent_name"] == "assistant"]
    assert answer[0]["text"] == "Hello there, friend"
    deltas = client.of("chat_delta")
    assert "".join(d["delta"] for d in deltas) == "Hello there, friend"
    assert {d["msg_id"] for d in deltas} == {final["msg_id"]}
    assert final["session_id"] == inputs[0]["session_id"]
    # Persisted: the conversation holds input then output, in order.
    server.wait_idle()
    conversation = server.db.get_conversations(final["session_id"])
    assert [m["msg_type"] for m in conversation] == ["input", "output"]


def test_content_as_text_parts_and_agent_tool_call(make_server):
    llm = ScriptedLLM(
        tool_response(tool_call("echo", {"text": "ping"}, call_id="c1")),
        text_response("The echo said ping."),
    )
    server = make_server(llm)
    client = server.client()

    client.emit("chat", {"content": [{"type": "text", "text": "use echo"}], "agents": ["echo"]})
    final = client.final_output()

    assert final["status"] == "success"
    echo_block = next(b for b in final["content"] if b["agent_name"] == "echo")
    assert echo_block["status"] == "success" and echo_block["data"] == {"text": "ping"}
    assert final["agents"] == ["echo"]
    # The turn was restricted to the requested agent, and the tool result went back to the model.
    assert llm.calls[0].tool_names == ["echo"]
    assert any(m.get("role") == "tool" and "echoed ping" in m["content"] for m in llm.calls[1].messages)


def test_existing_session_continues_with_history(make_server):
    llm = ScriptedLLM(text_response("first answer"), text_response("second answer"))
    server = make_server(llm)
    client = server.client()
    client.emit("chat", {"content": "first question"})
    session_id = client.final_output()["session_id"]
    server.wait_idle()

    client.events.clear()
    client.emit("chat", {"session_id": session_id, "content": "second question"})
    assert client.final_output()["session_id"] == session_id
    history = [(m["role"], m.get("content")) for m in llm.calls[1].messages if m["role"] != "system"]
    assert history == [
        ("user", "first question"),
        ("assistant", "first answer"),
        ("user", "second question"),
    ]


BAD_PAYLOADS = [
    ("not an object", "invalid_payload"),
    (["a", "list"], "invalid_payload"),
    ({}, "invalid_content"),
    ({"content": ""}, "invalid_content"),
    ({"content": "   "}, "invalid_content"),
    ({"content": 42}, "invalid_content"),
    ({"content": [{"type": "image", "url": "x"}]}, "invalid_content"),
    ({"content": [{"type": "text", "text": 5}]}, "invalid_content"),
    ({"content": "x" * 101}, "message_too_long"),
    ({"content": "hi", "agents": ["nope"]}, "unknown_agent"),
    ({"content": "hi", "agents": "echo"}, "invalid_agents"),
    ({"content": "hi", "session_id": 12}, "invalid_id"),
    ({"content": "hi", "session_id": "../../etc"}, "invalid_id"),
    ({"content": "hi", "msg_id": {"a": 1}}, "invalid_id"),
]


@pytest.mark.parametrize(("payload", "code"), BAD_PAYLOADS)
def test_bad_chat_payload_gets_error_and_nothing_else(make_server, payload, code):
    server = make_server(ScriptedLLM(text_response("should not be used")), max_message_chars=100)
    client = server.client()
    other = server.client()

    client.emit("chat", payload)
    error = client.error()

    assert error["code"] == code and error["message"]
    assert client.of("chat") == [] and other.of("error") == []
    assert server.llm.calls == [] and server.db.get_sessions() == []
    # The server keeps serving: a good message right after works.
    client.emit("chat", {"content": "fine"})
    assert client.final_output()["status"] == "success"


def test_message_at_the_size_limit_is_accepted(make_server):
    server = make_server(ScriptedLLM(text_response("ok")), max_message_chars=100)
    client = server.client()
    client.emit("chat", {"content": [{"type": "text", "text": "x" * 60}, {"type": "text", "text": "y" * 40}]})
    assert client.final_output()["status"] == "success"
    assert server.llm.calls[0].messages[-1]["content"] == "x" * 60 + "\n\n" + "y" * 40


def test_busy_session_rejects_second_chat_then_stop_keeps_partial(make_server):
    release, started = threading.Event(), threading.Event()
    llm = ScriptedLLM(ScriptedStream(blocking_stream(release, started)))
    server = make_server(llm)
    client = server.client()
    client.emit("chat", {"content": "long task"})
    assert started.wait(WAIT_S)
    session_id = client.wait_for(lambda c: c.of("chat") and c.of("chat")[0]["session_id"])

    client.emit("chat", {"session_id": session_id, "content": "again"})
    busy = client.error()
    assert busy["code"] == "session_busy" and busy["session_id"] == session_id

    client.emit("stop", {"session_id": session_id})
    release.set()
    final = client.final_output()
    assert final["stopped"] is True and final["status"] == "stopped" and final["stop_reason"] == "user"
    answer = next(b for b in final["content"] if b["agent_name"] == "assistant")
    assert answer["text"].startswith("partial answer")
    assert len(llm.calls) == 1  # the rejected chat never reached the model
    server.wait_idle()
    stored = server.db.get_conversations(session_id)[-1]
    assert stored == final


def test_stop_and_join_validate_payload(server: Server):
    client = server.client()
    client.emit("stop", {"nothing": 1})
    assert client.error()["code"] == "missing_session_id"
    client.events.clear()
    client.emit("join", "nope")
    assert client.error()["code"] == "invalid_payload"
    client.events.clear()
    client.emit("stop", {"session_id": "idle-session"})  # idle: a no-op, no error
    client.emit("join", {"session_id": "idle-session"})
    assert client.of("error") == []


def test_join_lets_a_second_tab_follow_the_session(make_server):
    server = make_server(ScriptedLLM(text_response("one"), text_response("two")))
    tab1, tab2, stranger = server.client(), server.client(), server.client()
    tab1.emit("chat", {"content": "first"})
    session_id = tab1.final_output()["session_id"]
    server.wait_idle()

    tab2.emit("join", {"session_id": session_id})
    tab1.events.clear()
    tab1.emit("chat", {"session_id": session_id, "content": "second"})
    final = tab2.final_output()
    assert final["session_id"] == session_id
    assert any(m["msg_type"] == "input" and m["content"][0]["text"] == "second" for m in tab2.of("chat"))
    assert tab2.of("chat_delta")
    assert stranger.of("chat") == []


def test_two_sessions_run_in_parallel(make_server):
    release, started = threading.Event(), threading.Event()
    llm = ScriptedLLM(ScriptedStream(blocking_stream(release, started)), text_response("quick"))
    server = make_server(llm)
    slow, fast = server.client(), server.client()
    slow.emit("chat", {"content": "slow"})
    assert started.wait(WAIT_S)
    # The slow turn holds its thread; the other session is answered meanwhile.
    fast.emit("chat", {"content": "fast"})
    assert fast.final_output()["status"] == "success"
    assert not [m for m in slow.of("chat") if m["msg_type"] == "output" and m["status"] != "progress"]
    release.set()
    assert slow.final_output()["status"] == "success"


def test_crash_in_turn_gives_error_message_and_server_keeps_serving(make_server, monkeypatch, caplog):
    server = make_server(ScriptedLLM(text_response("after the crash")))
    original_run = ReasoningEngine.run
    calls = {"n": 0}

    def crashing_run(self, input_message, input_saved=False):
        calls["n"] += 1
        if calls["n"] == 1:
            self.session.publish_input(input_message, saved=input_saved)
            raise RuntimeError("boom: internal detail")
        return original_run(self, input_message, input_saved)

    monkeypatch.setattr(ReasoningEngine, "run", crashing_run)
    client = server.client()
    client.emit("chat", {"content": "crash please"})
    final = client.final_output()
    assert final["status"] == "error"
    text = " ".join(b["text"] + str(b["status_message"]) for b in final["content"])
    assert "went wrong" in text and "boom" not in text
    assert "boom: internal detail" in caplog.text  # the traceback is logged

    server.wait_idle()
    client.events.clear()
    client.emit("chat", {"session_id": final["session_id"], "content": "again"})
    assert client.final_output()["status"] == "success"


def test_auth_token_required_for_socket(make_server):
    server = make_server(ScriptedLLM(text_response("ok")), auth_token="s3cret-token")
    refused = server.socketio.test_client(server.app, namespace="/chat")
    assert not refused.is_connected("/chat")
    wrong = server.socketio.test_client(server.app, namespace="/chat", auth={"token": "wrong"})
    assert not wrong.is_connected("/chat")

    by_auth = server.client(auth={"token": "s3cret-token"})
    assert by_auth.client.is_connected("/chat")
    # A token in the URL ends up in proxy logs and browser history: it is not accepted.
    by_query = server.socketio.test_client(server.app, namespace="/chat", query_string="token=s3cret-token")
    assert not by_query.is_connected("/chat")
    by_auth.emit("chat", {"content": "hi"})
    assert by_auth.final_output()["status"] == "success"


def test_simultaneous_chats_for_one_session_start_exactly_one_turn(make_server, monkeypatch):
    """The busy check is atomic with starting the turn, and a refused client does not join the room."""
    real_join_room = socket_io.join_room

    def slow_join_room(room: str) -> None:
        # Widens any gap between "is it busy?" and "claim it" so a non-atomic check would show.
        time.sleep(0.05)
        real_join_room(room)

    monkeypatch.setattr(socket_io, "join_room", slow_join_room)
    release, started = threading.Event(), threading.Event()
    llm = ScriptedLLM(ScriptedStream(blocking_stream(release, started)))
    server = make_server(llm)
    clients = [server.client() for _ in range(6)]
    barrier = threading.Barrier(len(clients))

    def send(client: ChatClient) -> None:
        barrier.wait()
        client.emit("chat", {"session_id": "contested", "content": "me first"})

    threads = [threading.Thread(target=send, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT_S)
    assert started.wait(WAIT_S)
    release.set()
    server.wait_idle()

    winners = [c for c in clients if any(m["msg_type"] == "output" for m in c.of("chat"))]
    losers = [c for c in clients if c not in winners]
    assert len(winners) == 1 and len(losers) == len(clients) - 1
    assert len(llm.calls) == 1
    for loser in losers:
        assert [e["code"] for e in loser.of("error")] == ["session_busy"]
        assert loser.of("chat") == [] and loser.of("chat_delta") == []
