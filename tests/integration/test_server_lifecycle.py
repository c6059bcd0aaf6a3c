"""Server lifecycle against real processes: restart and continue, auth token, PostgreSQL, bad config."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
import socketio
from psycopg.conninfo import conninfo_to_dict

from tests.fakes.providers import FakeOpenAI, Reply
from tests.fakes.server_process import ServerProcess, free_port, start_server
from tests.integration.conftest import API_KEY, provider_env
from tests.integration.live_client import LiveClient, answer_text, disconnect_all

pytestmark = pytest.mark.integration


def http_status(url: str, headers: dict[str, str] | None = None) -> int:
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, headers=headers or {}), timeout=10
        ) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def two_turns_of(server: ServerProcess, session_id: str) -> list[dict]:
    """The session's stored conversation, checked to hold two turns (question and answer each)."""
    with urllib.request.urlopen(f"{server.url}/session/{session_id}", timeout=10) as response:
        conversation = json.loads(response.read())["conversation"]
    assert [m["msg_type"] for m in conversation] == ["input", "output", "input", "output"]
    return conversation


def ask_then_start_reading_the_slow_page(client: LiveClient, question: str) -> str:
    """Turn 1 (must succeed), then turn 2 left running inside web_reader's slow fetch. Returns the session."""
    first = client.ask(question)
    assert first["status"] == "success"
    session_id = first["session_id"]
    client.clear()
    client.emit("chat", {"session_id": session_id, "content": "Read the slow page"})
    client.wait_for(lambda c: any(b["agent_name"] == "web_reader" for m in c.outputs() for b in m["content"]))
    return session_id


def test_sigterm_mid_turn_then_restart_and_continue(fake_openai: FakeOpenAI, web_pages, servers):
    """Turn 1 completes with a tool call; turn 2 is cut by SIGTERM; after a restart, turn 3 sees both."""
    server = start_server(provider_env(fake_openai))
    servers.append(server)
    article, slow = f"{web_pages}/article", f"{web_pages}/slow"
    fake_openai.script(
        Reply(tool_calls=[("web_reader", {"url": article})]),
        Reply(text="The keeper trims the wick."),
        Reply(tool_calls=[("web_reader", {"url": slow})]),
    )
    client = LiveClient(server.url)
    try:
        session_id = ask_then_start_reading_the_slow_page(client, "What does the keeper do?")
        # Graceful: the running turn is stopped and saved, sockets are closed, exit code 0 -
        # well before the slow page would have answered.
        assert server.stop() == 0
    finally:
        disconnect_all([client])

    server.start()
    conversation = two_turns_of(server, session_id)
    assert conversation[3]["stopped"] is True and conversation[3]["status"] != "progress"

    fake_openai.script(Reply(text="At dusk, as I said."))
    client = LiveClient(server.url)
    try:
        third = client.ask("When?", session_id=session_id)
    finally:
        disconnect_all([client])
    assert third["status"] == "success" and answer_text(third) == "At dusk, as I said."

    messages = fake_openai.requests[3].json["messages"]
    roles = [m["role"] for m in messages]
    assert roles == ["system", "user", "assistant", "tool", "assistant", "user", "assistant", "tool", "user"]
    assert messages[1]["content"] == "What does the keeper do?"
    call = messages[2]["tool_calls"][0]
    assert call["function"]["name"] == "web_reader"
    assert json.loads(call["function"]["arguments"]) == {"url": article}
    assert (
        messages[3]["tool_call_id"] == call["id"] and "Lighthouse Keeping Handbook" in messages[3]["content"]
    )
    assert messages[4]["content"] == "The keeper trims the wick."
    assert json.loads(messages[6]["tool_calls"][0]["function"]["arguments"]) == {"url": slow}
    assert messages[7]["tool_call_id"] == messages[6]["tool_calls"][0]["id"]
    assert messages[-1]["content"] == "When?"


def test_sigkill_mid_turn_keeps_earlier_turns_and_ends_the_cut_one(
    fake_openai: FakeOpenAI, web_pages, servers
):
    """A crash (no drain) loses at most the step in flight: turn 1 survives whole, the cut turn is
    shown as interrupted rather than stuck in progress, and the session continues with turn 1 replayed."""
    server = start_server(provider_env(fake_openai))
    servers.append(server)
    fake_openai.script(
        Reply(text="Ships steer by it."),
        Reply(tool_calls=[("web_reader", {"url": f"{web_pages}/slow"})]),
    )
    client = LiveClient(server.url)
    try:
        session_id = ask_then_start_reading_the_slow_page(client, "What is a lighthouse for?")
        server.kill()
    finally:
        disconnect_all([client])

    server.start()
    conversation = two_turns_of(server, session_id)
    assert conversation[1]["status"] == "success" and answer_text(conversation[1]) == "Ships steer by it."
    assert conversation[2]["content"][0]["text"] == "Read the slow page"
    cut = conversation[3]
    assert cut["status"] == "error"
    assert all(block["status"] != "progress" for block in cut["content"])
    assert "interrupted" in answer_text(cut)

    fake_openai.script(Reply(text="Yes."))
    client = LiveClient(server.url)
    try:
        third = client.ask("Still there?", session_id=session_id)
    finally:
        disconnect_all([client])
    assert third["status"] == "success" and answer_text(third) == "Yes."
    messages = fake_openai.requests[-1].json["messages"][1:]
    replayed = [(m["role"], m.get("content")) for m in messages]
    assert replayed[:2] == [("user", "What is a lighthouse for?"), ("assistant", "Ships steer by it.")]
    assert replayed[-1] == ("user", "Still there?")
    # The cut turn is in the model's context too, and replayable: its question, the tool call, and a
    # result for that call saying it was lost (a tool call left unanswered makes providers refuse).
    assert replayed[2] == ("user", "Read the slow page")
    (call,) = messages[3]["tool_calls"]
    assert call["function"]["name"] == "web_reader"
    assert messages[4]["role"] == "tool" and messages[4]["tool_call_id"] == call["id"]
    assert "server stopped" in json.loads(messages[4]["content"])["message"]


def test_auth_token_enforced_on_rest_and_socket(fake_openai: FakeOpenAI, servers):
    token = "tok-SECRET-4242"
    server = start_server(provider_env(fake_openai, DIRECTOR_AUTH_TOKEN=token))
    servers.append(server)

    assert http_status(f"{server.url}/session") == 401
    assert http_status(f"{server.url}/agent", {"Authorization": "Bearer nope"}) == 401
    assert http_status(f"{server.url}/agent", {"Authorization": f"Bearer {token}"}) == 200
    assert http_status(f"{server.url}/health") == 200
    with urllib.request.urlopen(f"{server.url}/health", timeout=10) as response:
        assert json.loads(response.read())["auth_required"] is True  # known before any 401

    with pytest.raises(socketio.exceptions.ConnectionError):
        LiveClient(server.url)
    with pytest.raises(socketio.exceptions.ConnectionError):
        LiveClient(server.url, auth={"token": "wrong"})
    client = LiveClient(server.url, auth={"token": token})
    try:
        fake_openai.script(Reply(text="authorised answer"))
        assert answer_text(client.ask("hi")) == "authorised answer"
    finally:
        disconnect_all([client])
    logs = server.logs()
    assert "refused" in logs and token not in logs and API_KEY not in logs


@pytest.mark.postgres
def test_postgres_backed_server(fake_openai: FakeOpenAI, servers, postgres_dsn):
    params = conninfo_to_dict(postgres_dsn)
    env = provider_env(
        fake_openai,
        DB_TYPE="postgres",
        POSTGRES_HOST=str(params.get("host", "127.0.0.1")),
        POSTGRES_PORT=str(params.get("port", 5432)),
        POSTGRES_USER=str(params.get("user", "postgres")),
        POSTGRES_DB=str(params["dbname"]),
        **({"POSTGRES_PASSWORD": str(params["password"])} if params.get("password") else {}),
    )
    server = start_server(env)
    servers.append(server)
    fake_openai.script(Reply(text="stored in postgres"), Reply(text="second answer"))
    client = LiveClient(server.url)
    try:
        first = client.ask("remember me")
        server.restart()
        assert first["status"] == "success"
    finally:
        disconnect_all([client])
    client = LiveClient(server.url)
    try:
        second = client.ask("again", session_id=first["session_id"])
    finally:
        disconnect_all([client])
    assert answer_text(second) == "second answer"
    assert [m["content"] for m in fake_openai.requests[1].json["messages"][1:]] == [
        "remember me",
        "stored in postgres",
        "again",
    ]
    with urllib.request.urlopen(f"{server.url}/config/check", timeout=10) as response:
        config = json.loads(response.read())
    assert config["db_type"] == "postgres" and config["db_configured"] is True


def start_expecting_failure(tmp_path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the server as `make run` does, with only ``env`` set, and return how it ended."""
    base = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "DIRECTOR_ENV_FILE": str(tmp_path / "none.env"),
        "SERVER_PORT": str(free_port()),
    }
    return subprocess.run(
        [sys.executable, "-m", "director.entrypoint.api.server"],
        env={**base, **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_bad_setting_fails_at_startup_naming_the_variable(tmp_path):
    done = start_expecting_failure(tmp_path, DIRECTOR_MAX_STEPS="many")
    assert done.returncode != 0
    assert "DIRECTOR_MAX_STEPS" in done.stderr


def test_database_newer_than_the_code_stops_startup_with_one_line(tmp_path):
    from director.db.sqlite import SQLiteDB

    path = tmp_path / "director.db"
    SQLiteDB(path).close()
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999'")
    conn.close()
    done = start_expecting_failure(tmp_path, SQLITE_DB_PATH=str(path))
    assert done.returncode == 2, done.stderr
    errors = [line for line in done.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1, done.stderr
    assert "schema version 9999, newer than this Director" in errors[0]
    assert "Traceback" not in done.stderr


def connect_when_free(url: str, within_s: float = 10.0) -> LiveClient:
    """Connect the way Socket.IO clients do when refused: retry shortly. The server frees a slot only
    once its thread has finished with the closed websocket, a moment after the client is done."""
    deadline = time.monotonic() + within_s
    while True:
        try:
            return LiveClient(url)
        except socketio.exceptions.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_too_many_open_sockets_are_refused_and_rest_keeps_answering(fake_openai: FakeOpenAI, servers):
    """Each open websocket holds one of gunicorn's threads. With all of them held, the server used to
    answer nothing at all (not even /health). Now sockets get at most SERVER_THREADS minus a reserve."""
    # 2 for sockets, 2 kept (SERVER_MAX_SOCKETS: the same 2 under the gevent worker)
    server = start_server(provider_env(fake_openai, SERVER_THREADS="4", SERVER_MAX_SOCKETS="2"))
    servers.append(server)
    clients = [LiveClient(server.url), LiveClient(server.url)]
    try:
        with pytest.raises(socketio.exceptions.ConnectionError):
            LiveClient(server.url)
        # The reserved threads still serve REST while every socket slot is taken.
        assert http_status(f"{server.url}/health") == 200
        assert http_status(f"{server.url}/agent") == 200
        assert http_status(f"{server.url}/socket.io/?EIO=4&transport=polling") == 503
        # And the connected clients still chat.
        fake_openai.script(Reply(text="still here"))
        assert answer_text(clients[0].ask("hi")) == "still here"
        disconnect_all(clients[1:])
        clients = clients[:1]
        clients.append(connect_when_free(server.url))  # a freed slot is taken again
    finally:
        disconnect_all(clients)
    assert "Raise SERVER_THREADS" in server.logs()
