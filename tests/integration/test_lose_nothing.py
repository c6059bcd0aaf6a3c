"""Lose nothing (issue 16), against real server processes, real clients and real storage: a graceful
stop saves what the client saw, answers cut by a crash never show as running, and a full disk is a
clear error where what the client is finally told is what is stored (or says it was not saved)."""

from __future__ import annotations

import contextlib
import json
import secrets
import sqlite3
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from director.core.session import INTERRUPTED_TEXT

from tests.fakes.postgres import PostgresServer, database_on_disk, server_env
from tests.fakes.providers import FakeOpenAI, RecordedRequest, Reply
from tests.fakes.server_process import ServerProcess, start_server
from tests.fakes.small_disk import SmallDisk, small_disk
from tests.integration.conftest import provider_env
from tests.integration.live_client import LiveClient, answer_text, disconnect_all

pytestmark = pytest.mark.integration

DRIP_TEXT = "Drip by drip the answer comes, slowly, one word every three seconds."
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


postgres_env = server_env  # the settings of a server on the test's database


def db_env(backend: str, request: pytest.FixtureRequest) -> dict[str, str]:
    return postgres_env(request.getfixturevalue("postgres_dsn")) if backend == "postgres" else {}


def last_user_text(req: RecordedRequest) -> str:
    return next(m["content"] for m in reversed(req.json["messages"]) if m["role"] == "user")


def by_prompt(req: RecordedRequest) -> Reply:
    """``DRIP3000 ...`` streams a word every 3 s; ``WAIT ...`` answers nothing for 8 s; else at once."""
    text = last_user_text(req)
    if text.startswith("DRIP3000"):
        return Reply(text=DRIP_TEXT, chunk_delay=3.0)
    if text.startswith("WAIT"):
        return Reply(text="late", delay=8.0)
    return Reply(text=f"Answer to: {text[:40]}")


def get_session(server: ServerProcess, session_id: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(f"{server.url}/session/{session_id}", timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def stored_conversation(server: ServerProcess, session_id: str) -> list[dict[str, Any]]:
    status, body = get_session(server, session_id)
    assert status == 200, body
    return body["conversation"]


def first_delta_session(client: LiveClient, timeout: float = 20.0) -> str:
    return client.wait_for(lambda c: next((d["session_id"] for d in c.of("chat_delta")), None), timeout)


@pytest.mark.parametrize("backend", BACKENDS)
def test_sigterm_mid_stream_stores_exactly_what_the_client_received(
    fake_openai: FakeOpenAI, servers, backend: str, request: pytest.FixtureRequest
):
    """Issue 16 finding 1 and 2: SIGTERM used to close the DB under running turns (the row stayed
    `progress` and empty while the client got the whole answer) and ended them as `success`."""
    server = start_server(provider_env(fake_openai, **db_env(backend, request)))
    servers.append(server)
    fake_openai.responder = by_prompt
    dripping, waiting = LiveClient(server.url), LiveClient(server.url)
    try:
        dripping.emit("chat", {"content": "DRIP3000 hello"})
        waiting.emit("chat", {"content": "WAIT for the first byte"})
        first_delta_session(dripping)
        waiting.wait_for(lambda c: any(m["msg_type"] == "output" for m in c.of("chat")))
        time.sleep(1.0)  # both are now blocked: between two chunks, and before the first one
        began = time.monotonic()
        assert server.stop() == 0
        stop_s = time.monotonic() - began
        dripped, waited = dripping.final_output(), waiting.final_output()
    finally:
        disconnect_all([dripping, waiting])

    assert stop_s < 8, "the drain must not wait for the provider"
    for final in (dripped, waited):
        assert final["status"] == "stopped" and final["stopped"] is True
        assert final["stop_reason"] == "shutdown"
    assert answer_text(dripped) == "Drip"  # what had streamed: the first word
    assert answer_text(waited) == "Stopped before any answer was written."

    logs = server.logs()
    assert "DatabaseClosedError" not in logs and "is closed" not in logs
    assert "could not be saved in time" not in logs

    server.start()
    for final in (dripped, waited):
        assert stored_conversation(server, final["session_id"])[-1] == final  # text, status, all of it
    # The next turn's model sees what was already said before the stop.
    fake_openai.responder = None
    fake_openai.script(Reply(text="Continuing."))
    client = LiveClient(server.url)
    try:
        assert client.ask("go on", session_id=dripped["session_id"])["status"] == "success"
    finally:
        disconnect_all([client])
    replayed = fake_openai.requests[-1].json["messages"]
    assert {"role": "assistant", "content": "Drip"} in replayed


@pytest.mark.parametrize("backend", BACKENDS)
def test_killed_answer_reads_interrupted_while_the_session_runs_a_new_turn(
    fake_openai: FakeOpenAI, servers, backend: str, request: pytest.FixtureRequest
):
    """Issue 16 finding 3: after kill -9, the cut answer was shown as `progress` whenever the same
    session was running a new turn. It is now rewritten in storage at start-up."""
    server = start_server(provider_env(fake_openai, **db_env(backend, request)))
    servers.append(server)
    fake_openai.responder = by_prompt
    client = LiveClient(server.url)
    try:
        client.emit("chat", {"content": "DRIP3000 first"})
        session_id = first_delta_session(client)
        server.kill()
    finally:
        disconnect_all([client])

    server.start()
    assert "marked 1 answer(s) cut by a crash as interrupted" in server.logs()
    client = LiveClient(server.url)
    try:
        client.emit("chat", {"session_id": session_id, "content": "DRIP3000 second"})
        # The new turn is running now. (A restarted server's first turn waits for LiteLLM's import,
        # which takes many seconds on a loaded machine.)
        first_delta_session(client, timeout=60)
        conversation = stored_conversation(server, session_id)
        assert [m["msg_type"] for m in conversation] == ["input", "output", "input", "output"]
        cut, running = conversation[1], conversation[3]
        assert cut["status"] == "error" and all(block["status"] != "progress" for block in cut["content"])
        # The answer block says it was interrupted, and keeps what was saved of it (running answers are
        # saved every half second) or, cut before its first save, says so in place of the text.
        answer = [block for block in cut["content"] if block.get("agent_name") == "assistant"][-1]
        assert answer["status_message"] == INTERRUPTED_TEXT
        assert answer["text"] == INTERRUPTED_TEXT or DRIP_TEXT.startswith(answer["text"])
        assert running["status"] == "progress"
        client.emit("stop", {"session_id": session_id})
        stopped = client.final_output()
    finally:
        disconnect_all([client])
    assert stopped["status"] == "stopped" and stopped["stop_reason"] == "user"
    assert stored_conversation(server, session_id)[-1] == stopped


# -- a full disk -----------------------------------------------------------------------------------


@pytest.fixture
def disk() -> Iterator[SmallDisk]:
    with small_disk("32m") as mounted:
        yield mounted


def sqlite_on(disk: SmallDisk) -> dict[str, str]:
    return {"SQLITE_DB_PATH": str(disk.path / "director.db")}


@pytest.fixture
def postgres_on(postgres_server: PostgresServer) -> Iterator[Any]:
    """Makes a database whose tables live on the small disk (WAL stays on the big one)."""
    with contextlib.ExitStack() as stack:
        yield lambda disk: postgres_env(stack.enter_context(database_on_disk(postgres_server, disk.path)))


def session_ids(server: ServerProcess) -> set[str]:
    with urllib.request.urlopen(f"{server.url}/session", timeout=10) as response:
        return {s["session_id"] for s in json.loads(response.read())}


@pytest.mark.parametrize("backend", BACKENDS)
def test_full_disk_is_a_clear_error_and_what_the_client_is_told_is_stored(
    fake_openai: FakeOpenAI, servers, disk: SmallDisk, backend: str, request: pytest.FixtureRequest
):
    """Issue 16 finding 4: a generic error in 5 ms (retry storms), session ids that later 404, and
    finals that differed from the stored rows. Then recovery once space is freed, without a restart."""
    env = sqlite_on(disk) if backend == "sqlite" else request.getfixturevalue("postgres_on")(disk)
    server = start_server(provider_env(fake_openai, DIRECTOR_MAX_MESSAGE_CHARS="2000000", **env))
    servers.append(server)
    # More than any space a filled disk (or SQLite's WAL) has left, and incompressible (PostgreSQL's TOAST).
    big = secrets.token_urlsafe(1_100_000)
    fake_openai.responder = lambda req: (
        Reply(chunks=["Part one. ", big], text="Part one. " + big, chunk_delay=2.0)
        if last_user_text(req).startswith("BIG")
        else Reply(text=f"Answer to: {last_user_text(req)[:20]}")
    )
    client = LiveClient(server.url)
    try:
        kept = client.ask("before the disk fills")
        assert kept["status"] == "success"
        kept_id = kept["session_id"]
        # A turn already streaming when the disk fills: its long answer cannot be saved.
        streaming = LiveClient(server.url)
        streaming.emit("chat", {"content": "BIG answer please"})
        streaming_id = first_delta_session(streaming)
        known = session_ids(server)
        disk.fill()

        # A new session is refused before it starts: a clear error with Retry-After, and no id.
        client.clear()
        client.emit("chat", {"content": "a new session " + big})
        error = client.error()
        assert error["code"] == "storage_full" and error["retry_after"] == 30
        assert "storage is full" in error["message"]
        time.sleep(0.5)
        assert client.of("chat") == [] and client.of("chat_delta") == []
        assert session_ids(server) == known  # nothing was answered into existence

        # An existing session: the message cannot be saved, so the turn is refused before it starts.
        client.clear()
        client.emit("chat", {"session_id": kept_id, "content": big})
        error = client.error()
        assert error["code"] == "storage_full" and error["retry_after"] == 30
        time.sleep(0.5)
        assert client.of("chat") == []
        assert stored_conversation(server, kept_id)[-1] == kept  # and indeed nothing was stored

        cut = streaming.final_output(timeout=30)
        assert cut["status"] == "error" and "storage is full" in answer_text(cut)
        assert answer_text(cut).startswith("Part one. ")
        disconnect_all([streaming])
        stored_cut = stored_conversation(server, streaming_id)[-1]
        # Told it was not saved; what is stored never claims to be a finished answer.
        assert stored_cut["status"] == "error" and big not in answer_text(stored_cut)

        logs = server.logs()
        assert logs.count("STORAGE FULL") == 1  # one operator line a minute, not one per write
        assert "Traceback" not in logs

        # Space is freed: the same server saves again, and what the client gets is what is stored.
        disk.free()
        time.sleep(1.1)  # the alarm calls it a recovery only once writes stop failing for a second
        again = client.ask("after freeing space", session_id=kept_id)
        assert again["status"] == "success"
        assert stored_conversation(server, kept_id)[-1] == again
        fresh = client.ask("a new session after freeing space")
        assert stored_conversation(server, fresh["session_id"])[-1] == fresh
        assert "writable again" in server.logs()
    finally:
        disconnect_all([client])
    server.stop()
    if backend == "sqlite":
        conn = sqlite3.connect(disk.path / "director.db")
        try:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        finally:
            conn.close()


def test_sigterm_with_a_client_half_way_through_its_handshake_exits_at_once(fake_openai: FakeOpenAI, servers):
    """Found by bench/soak.py: a client reconnecting at the moment of SIGTERM (its engine.io session
    opened by the polling handshake, not upgraded yet) made the drain wait forever on that socket's
    send queue, until the worker was killed and nothing after the drain ran."""
    server = start_server(provider_env(fake_openai))
    servers.append(server)
    with urllib.request.urlopen(f"{server.url}/socket.io/?EIO=4&transport=polling", timeout=10) as response:
        assert b'"sid"' in response.read()  # an engine.io session, no websocket behind it
    fake_openai.responder = by_prompt
    client = LiveClient(server.url)
    try:
        client.emit("chat", {"content": "DRIP3000 hello"})
        first_delta_session(client)
        began = time.monotonic()
        assert server.stop() == 0  # the harness would SIGKILL after 10 s (exit code -9)
        assert time.monotonic() - began < 6
        assert client.final_output()["status"] == "stopped"
    finally:
        disconnect_all([client])
