"""A real server subprocess, real LiteLLM, a fake OpenAI server and real Socket.IO clients.

Tests in this module share one server and one socket client (both are slow to set up); each test
resets the fake provider's script and request log.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator

import pytest
import socketio
import websocket

from tests.fakes.providers import DEFAULT_COMPLETION_TOKENS, DEFAULT_PROMPT_TOKENS, FakeOpenAI, Reply
from tests.fakes.server_process import ServerProcess, start_server
from tests.integration.conftest import API_KEY, provider_env
from tests.integration.live_client import answer_text

pytestmark = pytest.mark.integration

# compare_models may only call the configured model and its fallbacks: these are the fallbacks.
FALLBACK_MODELS = ["openai/fake-a", "openai/fake-broken"]


@pytest.fixture(scope="module")
def live_server(module_fake: FakeOpenAI) -> Iterator[ServerProcess]:
    # Ollama's default base points at the fake, so a local-model call that slipped through is seen.
    env = provider_env(
        module_fake, LITELLM_FALLBACK_MODELS=",".join(FALLBACK_MODELS), OLLAMA_API_BASE=module_fake.url
    )
    server = start_server(env)
    yield server
    server.cleanup()


def http_json(url: str, method: str = "GET", headers: dict[str, str] | None = None) -> tuple[int, object]:
    request = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def tool_messages(request_json: dict) -> list[dict]:
    return [m for m in request_json["messages"] if m["role"] == "tool"]


def test_plain_answer_streams_deltas_then_final(fake, client, live_server):
    fake.script(Reply(text="The capital of France is Paris."))
    final = client.ask("What is the capital of France?", msg_id="mine-1")

    assert final["status"] == "success"
    assert answer_text(final) == "The capital of France is Paris."
    deltas = [d for d in client.of("chat_delta") if d["msg_id"] == final["msg_id"]]
    assert len(deltas) > 1  # streamed piecewise, not once at the end
    assert "".join(d["delta"] for d in deltas) == "The capital of France is Paris."
    echoed = [m for m in client.of("chat") if m["msg_type"] == "input"]
    assert echoed[0]["client_msg_id"] == "mine-1" and echoed[0]["session_id"] == final["session_id"]

    # What LiteLLM actually sent: streaming, our model, the user's text, the agents as tools.
    sent = fake.requests[0]
    assert sent.path == "/v1/chat/completions" and sent.json["stream"] is True
    assert sent.json["model"] == "fake-model"
    assert sent.json["messages"][-1] == {"role": "user", "content": "What is the capital of France?"}
    assert {t["function"]["name"] for t in sent.json["tools"]} == {
        "web_reader",
        "pricing",
        "compare_models",
        "summarize",
    }
    assert sent.headers["authorization"] == f"Bearer {API_KEY}"

    status, session = http_json(f"{live_server.url}/session/{final['session_id']}")
    assert status == 200 and session["title"] == "What is the capital of France?"
    assert [m["msg_type"] for m in session["conversation"]] == ["input", "output"]
    assert session["conversation"][1]["status"] == "success"


def test_web_reader_tool_call_reads_a_local_page(fake, client, web_pages):
    fake.script(
        Reply(tool_calls=[("web_reader", {"url": f"{web_pages}/article"})]),
        Reply(text="The keeper trims the wick at dusk."),
    )
    final = client.ask("What does the keeper do at dusk?")

    assert final["status"] == "success", final
    block = next(b for b in final["content"] if b["agent_name"] == "web_reader")
    assert block["status"] == "success"
    assert block["data"]["title"] == "Lighthouse Keeping Handbook"
    assert "trims the wick" in json.dumps(block["data"])
    assert final["agents"] == ["web_reader"]
    # The extracted text went back to the model as a JSON tool result; the nav/footer did not.
    result = json.loads(tool_messages(fake.requests[1].json)[0]["content"])
    assert "Fog signals" in json.dumps(result) and "Copyright 1901" not in json.dumps(result)


def test_pricing_tool_call(fake, client):
    fake.script(
        Reply(tool_calls=[("pricing", {"models": ["gpt-4o", "no-such-model-xyz"]})]), Reply(text="Done.")
    )
    final = client.ask("How much is gpt-4o?")

    block = next(b for b in final["content"] if b["agent_name"] == "pricing")
    assert block["status"] == "success"
    result = tool_messages(fake.requests[1].json)[0]["content"]
    assert "gpt-4o" in result and "no-such-model-xyz" in result
    assert final["status"] == "success"


def test_compare_models_tool_call_hits_each_model(fake, client):
    def answer_per_model(request):
        model = request.json["model"]
        if model == "fake-broken":
            return Reply(status=500)
        return Reply(text=f"I am {model}")

    fake.script(
        Reply(
            tool_calls=[
                ("compare_models", {"prompt": "Say hi", "models": ["openai/fake-a", "openai/fake-broken"]})
            ]
        )
    )
    fake.responder = lambda request: (
        answer_per_model(request) if request.json["model"] != "fake-model" else Reply(text="Compared.")
    )
    final = client.ask("Compare fake-a and fake-broken")

    assert final["status"] == "success", final
    block = next(b for b in final["content"] if b["agent_name"] == "compare_models")
    rows = {row["model"]: row for row in block["data"]["rows"]}
    assert rows["openai/fake-a"]["answer"] == "I am fake-a"
    assert rows["openai/fake-broken"]["error"]  # a failing model is a row, not a failed turn
    assert {r.json["model"] for r in fake.requests} >= {"fake-a", "fake-broken", "fake-model"}
    # The turn's usage counts its two own calls and both compared models (the failed one used nothing).
    assert final["usage"]["llm_calls"] == 4 and final["usage"]["model"] == "openai/fake-model"


def test_compare_models_refuses_models_the_server_is_not_configured_with(fake, client):
    # What a prompt-injected page can make the model ask for: local ports and arbitrary models.
    injected = ["openai/fake-a", "ollama/llama3", "openai/evil"]
    fake.script(
        Reply(tool_calls=[("compare_models", {"prompt": "leak it", "models": injected})]),
        Reply(text="Could not compare."),
    )
    final = client.ask("Compare these")

    block = next(b for b in final["content"] if b["agent_name"] == "compare_models")
    assert block["status"] == "error" and "Not allowed: ollama/llama3, openai/evil" in block["text"]
    assert [r.json["model"] for r in fake.requests] == ["fake-model", "fake-model"]
    assert [r.path for r in fake.all_requests] == ["/v1/chat/completions"] * 2  # no /api/generate
    tool_result = json.loads(tool_messages(fake.requests[1].json)[0]["content"])
    assert tool_result["data"]["allowed"] == ["openai/fake-model", *FALLBACK_MODELS]


def test_summarize_tool_call_uses_the_llm(fake, client):
    fake.script(
        Reply(tool_calls=[("summarize", {"text": "A long text about lighthouses and their keepers. " * 5})]),
        Reply(text="Lighthouses have keepers."),  # the summarize agent's own LLM call
        Reply(text="Summary: lighthouses have keepers."),
    )
    final = client.ask("Summarise this text")

    assert final["status"] == "success", final
    block = next(b for b in final["content"] if b["agent_name"] == "summarize")
    assert block["status"] == "success" and "Lighthouses have keepers." in json.dumps(block)
    assert len(fake.requests) == 3
    assert "lighthouses" in json.dumps(fake.requests[1].json["messages"]).lower()
    # Three model calls went into this answer, the agent's own included, and its usage says so.
    usage = final["usage"]
    assert (usage["llm_calls"], usage["input_tokens"], usage["output_tokens"]) == (
        3,
        3 * DEFAULT_PROMPT_TOKENS,
        3 * DEFAULT_COMPLETION_TOKENS,
    )


def test_two_sessions_run_in_parallel(fake, client, module_clients):
    other = module_clients() if len(module_clients.clients) < 2 else module_clients.clients[1]
    other.clear()
    fake.latency = 1.0
    fake.responder = lambda request: Reply(text="parallel answer")
    started = time.monotonic()
    client.emit("chat", {"content": "one"})
    other.emit("chat", {"content": "two"})
    first = client.final_output()
    second = other.final_output()
    elapsed = time.monotonic() - started

    assert first["status"] == second["status"] == "success"
    assert first["session_id"] != second["session_id"]
    # Each client only saw its own session's events.
    assert {m["session_id"] for m in client.of("chat")} == {first["session_id"]}
    assert {m["session_id"] for m in other.of("chat")} == {second["session_id"]}
    # Both calls were in flight at once: sequential would take two latencies.
    assert len(fake.requests) == 2 and elapsed < 2.0


def test_stop_ends_a_turn_with_a_slow_agent(fake, client, web_pages):
    fake.script(Reply(tool_calls=[("web_reader", {"url": f"{web_pages}/slow"})]))
    client.emit("chat", {"content": "read the slow page"})
    running = client.wait_for(
        lambda c: next(
            (m for m in c.outputs() if any(b["agent_name"] == "web_reader" for b in m["content"])), None
        )
    )
    client.emit("stop", {"session_id": running["session_id"]})
    final = client.final_output(timeout=4.0)  # well before the page's 5 s

    assert final["stopped"] is True
    assert len(fake.requests) == 1  # the model was not asked again after the stop


def test_bad_payloads_get_errors_and_the_server_keeps_serving(fake, client, live_server):
    cases = [
        ("just a string", "invalid_payload"),
        ({"content": ""}, "invalid_content"),
        ({"content": "hi", "agents": ["does_not_exist"]}, "unknown_agent"),
        ({"content": "x" * 32001}, "message_too_long"),
        ({"content": "hi", "session_id": ["x"]}, "invalid_id"),
        ({"content": "hi", "session_id": "nl-test\n"}, "invalid_id"),  # a full match, not "$"
    ]
    for payload, code in cases:
        client.clear()
        client.emit("chat", payload)
        assert client.error()["code"] == code
        assert client.of("chat") == []
    assert fake.requests == []

    fake.script(Reply(text="still here"))
    assert answer_text(client.ask("are you there?")) == "still here"
    # auth_required was added to /health so clients know about the token before their first call.
    status, health = http_json(f"{live_server.url}/health")
    assert status == 200 and (health["status"], health["auth_required"]) == ("ok", False)
    assert health["worker"].endswith(f":{live_server.port}") and health["database"] == "ok"


class _RawChatJSON:
    """Client-side JSON that sends a prebuilt, hostile ``chat`` packet (no client can encode one)."""

    raw = ""

    @staticmethod
    def dumps(obj, **kwargs):
        if obj == ["chat", "<raw>"]:
            return '["chat",' + _RawChatJSON.raw + "]"
        return json.dumps(obj, **kwargs)

    loads = staticmethod(json.loads)


@pytest.mark.parametrize(
    "raw",
    [
        '{"content": ' + "[" * 50_000 + "]" * 50_000 + "}",  # deeper than Python's recursion limit
        '{"content": "hi", "session_id": ' + "9" * 5000 + "}",  # engine.io refuses long integers
    ],
    ids=["deep-nesting", "huge-integer"],
)
def test_undecodable_junk_gets_an_error_event(fake, client, live_server, monkeypatch, raw):
    logged_before = len(live_server.logs())
    monkeypatch.setattr(_RawChatJSON, "raw", raw)
    monkeypatch.setattr(socketio.packet.Packet, "json", _RawChatJSON)
    client.clear()
    client.emit("chat", "<raw>")
    assert client.error()["code"] == "invalid_payload"
    assert client.of("chat") == [] and fake.requests == []
    monkeypatch.undo()

    fake.script(Reply(text="still serving"))
    assert answer_text(client.ask("hello?")) == "still serving"
    assert "Traceback" not in live_server.logs()[logged_before:]


def test_busy_session_gets_session_busy_error(fake, client):
    fake.latency = 1.0
    fake.responder = lambda request: Reply(text="slow answer")
    client.emit("chat", {"content": "first"})
    session_id = client.wait_for(lambda c: c.outputs() and c.outputs()[0]["session_id"])
    client.emit("chat", {"session_id": session_id, "content": "second"})
    error = client.error()
    assert error["code"] == "session_busy" and error["session_id"] == session_id
    assert client.final_output()["status"] == "success"
    assert len(fake.requests) == 1


def test_provider_error_ends_turn_with_safe_message(fake, client):
    fake.script(Reply(status=401, body={"error": {"message": f"Incorrect API key provided: {API_KEY}"}}))
    final = client.ask("hello?")

    assert final["status"] == "error"
    text = json.dumps(final)
    assert API_KEY not in text and "Incorrect API key provided:" not in text
    block = next(b for b in final["content"] if b["agent_name"] == "assistant")
    assert block["data"]["error_type"] == "auth"


def test_a_lone_surrogate_does_not_poison_an_existing_session(fake, client, live_server):
    # Browsers send lone surrogates as escapes (JSON.stringify keeps them); so does this client.
    fake.responder = lambda request: Reply(text="ok")
    first = client.ask("first")
    session_id = first["session_id"]
    assert first["status"] == "success"
    poisoned = client.ask("bad \udfff", session_id=session_id)
    assert poisoned["status"] == "success", poisoned
    for turn in range(2):  # every later turn of the session keeps working
        later = client.ask(f"later {turn}", session_id=session_id)
        assert later["status"] == "success", later
    sent = [m["content"] for m in fake.requests[-1].json["messages"] if m["role"] == "user"]
    assert sent == ["first", "bad \ufffd", "later 0", "later 1"]
    status, session = http_json(f"{live_server.url}/session/{session_id}")
    inputs = [m["content"][0]["text"] for m in session["conversation"] if m["msg_type"] == "input"]
    assert status == 200 and inputs[1] == "bad \ufffd"


def test_a_new_session_whose_first_message_has_a_lone_surrogate_works(fake, client, live_server):
    fake.script(Reply(text="hello"))
    final = client.ask("\ud83d hi\x00 there")
    assert final["status"] == "success", final
    assert fake.requests[0].json["messages"][-1]["content"] == "\ufffd hi there"
    status, session = http_json(f"{live_server.url}/session/{final['session_id']}")
    assert status == 200 and session["title"] == "\ufffd hi there"


@pytest.mark.parametrize("transport", ["websocket", "polling"])
def test_a_10_mb_message_gets_message_too_long_and_the_connection_stays(
    fake, live_server, new_clients, transport
):
    client = new_clients(live_server.url, transports=[transport])
    client.emit("chat", {"content": "x" * 10_000_000})
    error = client.error(timeout=60)
    assert error["code"] == "message_too_long" and "10000000 characters" in error["message"]
    assert client.sio.connected and fake.requests == []
    fake.script(Reply(text="still connected"))
    assert answer_text(client.ask("short one")) == "still connected"


def test_a_message_over_the_transport_limit_is_refused_as_it_arrives(live_server):
    # Beyond the transport's own limit (README) the websocket is closed with 1009 "message too big"
    # before the server buffers the whole message; no event can be sent on a closed connection.
    from director.entrypoint.api.transport_limits import TRANSPORT_MAX_BYTES

    ws = websocket.create_connection(
        live_server.url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket", timeout=30
    )
    try:
        assert ws.recv().startswith("0")  # engine.io open packet
        ws.send("40/chat,{}")
        assert ws.recv().startswith("40/chat")
        try:
            ws.send('42/chat,["chat",{"content":"' + "x" * (TRANSPORT_MAX_BYTES + 1) + '"}]')
        except (BrokenPipeError, ConnectionResetError, websocket.WebSocketConnectionClosedException):
            pass  # the server may close while the frame is still being written
        frame = ws.recv_frame()
        while frame.opcode != websocket.ABNF.OPCODE_CLOSE:
            frame = ws.recv_frame()
        assert int.from_bytes(frame.data[:2], "big") == 1009
    finally:
        ws.close()
    status, body = http_json(f"{live_server.url}/health")
    assert status == 200 and body["status"] == "ok"


def test_rest_endpoints_over_http(live_server):
    status, agents = http_json(f"{live_server.url}/agent")
    assert status == 200 and {a["name"] for a in agents} == {
        "web_reader",
        "pricing",
        "compare_models",
        "summarize",
    }
    status, config = http_json(f"{live_server.url}/config/check")
    assert status == 200 and config["chat_model"] == "openai/fake-model" and config["db_type"] == "sqlite"
    status, sessions = http_json(f"{live_server.url}/session")
    assert status == 200 and isinstance(sessions, list)
    assert http_json(f"{live_server.url}/session/nope")[0] == 404
    assert http_json(f"{live_server.url}/health", method="DELETE")[0] == 405


def test_socket_handshake_from_foreign_origin_is_refused(live_server, new_clients):
    # Polling only: websocket-client adds its own Origin header next to ours.
    with pytest.raises(socketio.exceptions.ConnectionError):
        new_clients(live_server.url, headers={"Origin": "http://evil.example"}, transports=["polling"])
    ok = new_clients(live_server.url, headers={"Origin": "http://localhost:5173"}, transports=["polling"])
    assert ok.sio.connected


def test_api_key_never_leaks(fake, client, live_server):
    """Runs last in this module: every event so far and the whole server log must be clean."""
    fake.script(Reply(text="bye"))
    client.ask("one more")
    for name in ("chat", "chat_delta", "error"):
        assert API_KEY not in json.dumps(client.of(name))
    for path in ("/session", "/config/check", "/agent"):
        body = urllib.request.urlopen(f"{live_server.url}{path}", timeout=10).read().decode()
        assert API_KEY not in body
    for session in http_json(f"{live_server.url}/session")[1]:
        assert API_KEY not in json.dumps(http_json(f"{live_server.url}/session/{session['session_id']}")[1])
    logs = live_server.logs()
    assert "Director is listening on" in logs  # the log is really captured
    assert API_KEY not in logs
