"""The server's side of "lose nothing", in process: the drain's order (stop, save, then close), turns
refused while stopping or on a full disk, and the REST shape of a full disk."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest
from director.entrypoint.api.server import drain
from director.errors import StorageFullError

from tests.entrypoint.conftest import NAMESPACE, WAIT_S, Server, start_blocked_turn


def test_drain_saves_a_turn_blocked_in_the_provider_before_returning(make_server) -> None:
    server, client, session_id, release = start_blocked_turn(make_server)
    try:
        unsaved = drain(server.app, server.socketio, timeout_s=3.0, grace_s=0.1)
        assert unsaved == []
        # Saved by the time drain returns, i.e. before the DB is closed: stopped, as the client saw it.
        stored = server.db.get_conversations(session_id)[-1]
        assert stored["status"] == "stopped" and stored["stop_reason"] == "shutdown"
        assert (
            next(b for b in stored["content"] if b["agent_name"] == "assistant")["text"] == "partial answer"
        )
        assert client.final_output() == stored
        # No new connection while the server stops: it would hold a worker thread until killed.
        assert not server.client().client.is_connected(NAMESPACE)
    finally:
        release.set()
    server.wait_idle()
    assert server.db.get_conversations(session_id)[-1] == stored  # the turn's thread wrote nothing after


def test_a_chat_on_an_open_socket_is_refused_once_stopping_began(server: Server) -> None:
    client = server.client()
    server.app.extensions["director"].registry.stop_all()  # the drain's first step
    client.emit("chat", {"content": "one more"})
    error = client.error()
    assert error["code"] == "server_stopping" and "restarting" in error["message"]
    assert client.of("chat") == [] and server.db.get_sessions() == []


def test_drain_names_the_session_it_could_not_save_in_time(
    make_server, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    server, _client, session_id, release = start_blocked_turn(make_server)
    stuck = threading.Event()
    save = server.db.add_or_update_msg_to_conv

    def hanging_save(message: dict[str, Any]) -> None:
        if message.get("status") == "stopped":
            stuck.wait(WAIT_S)  # a DB that does not answer
        save(message)

    monkeypatch.setattr(server.db, "add_or_update_msg_to_conv", hanging_save)
    try:
        with caplog.at_level(logging.ERROR, logger="director.server"):
            unsaved = drain(server.app, server.socketio, timeout_s=0.5, grace_s=0.1)
        assert unsaved == [session_id]
        assert f"the turn of session {session_id} could not be saved in time" in caplog.text
    finally:
        stuck.set()
        release.set()
    server.wait_idle()


def test_full_disk_refuses_a_new_session_before_it_starts(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(message: dict[str, Any], title: str | None = None) -> None:
        raise StorageFullError("test.db")

    # The one transaction a turn's start writes (the message, its session row, title and branch tip).
    monkeypatch.setattr(server.db, "save_input_message", full)
    client = server.client()
    client.emit("chat", {"content": "hello"})
    error = client.error()
    assert error == {
        "code": "storage_full",
        "message": "The server's storage is full, so it cannot save new messages right now. Try again in 30 s.",
        "retry_after": 30,
    }
    assert client.of("chat") == []  # no session id handed out
    assert server.db.get_sessions() == []
    assert server.app.extensions["director"].registry.running() == []


def test_rest_full_disk_is_507_with_retry_after(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    server.db.create_session("s1")

    def full(session_id: str) -> bool:
        raise StorageFullError("test.db")

    monkeypatch.setattr(server.db, "delete_session", full)
    response = server.app.test_client().delete("/session/s1")
    assert response.status_code == 507
    assert response.headers["Retry-After"] == "30"
    assert response.get_json()["code"] == "storage_full" and response.get_json()["retry_after"] == 30
