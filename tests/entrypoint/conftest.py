"""Unit-test harness for the server: the real app with a ScriptedLLM, a temp SQLite DB and tiny agents."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from director.agents.base import AgentResponse, BaseAgent
from director.db.sqlite import SQLiteDB
from director.entrypoint.api.app import create_app
from director.entrypoint.api.settings import ServerSettings, load_server_settings
from flask import Flask
from flask_socketio import SocketIO, SocketIOTestClient

from tests.fakes.scripted_llm import ScriptedLLM, ScriptedStream

NAMESPACE = "/chat"
WAIT_S = 10.0


class EchoAgent(BaseAgent):
    name = "echo"
    description = "Echo a text back."

    def run(self, text: str) -> AgentResponse:
        """Echo a text back.

        Args:
            text: The text to echo.
        """
        self.report("echoing")
        return AgentResponse(message=f"echoed {text}", data={"text": text})


class ShoutAgent(BaseAgent):
    name = "shout"
    description = "Upper-case a text."

    def run(self, text: str) -> AgentResponse:
        """Upper-case a text.

        Args:
            text: The text to shout.
        """
        return AgentResponse(message=text.upper(), data={"text": text.upper()})


TEST_AGENTS = [EchoAgent, ShoutAgent]


class ChatClient:
    """A Socket.IO test client that accumulates received events and can wait for one."""

    def __init__(self, client: SocketIOTestClient):
        self.client = client
        self.events: list[tuple[str, Any]] = []

    def emit(self, event: str, payload: Any) -> None:
        self.client.emit(event, payload, namespace=NAMESPACE)

    def _drain(self) -> None:
        for packet in self.client.get_received(NAMESPACE):
            self.events.append((packet["name"], packet["args"][0] if packet["args"] else None))

    def of(self, name: str) -> list[Any]:
        self._drain()
        return [payload for event, payload in self.events if event == name]

    def wait_for(self, predicate: Callable[[ChatClient], Any], timeout: float = WAIT_S) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._drain()
            result = predicate(self)
            if result:
                return result
            time.sleep(0.005)
        raise AssertionError(f"timed out waiting; received: {self.events}")

    def final_output(self, timeout: float = WAIT_S) -> dict[str, Any]:
        """The first output message that reached a final status."""

        def done(c: ChatClient) -> dict[str, Any] | None:
            return next(
                (m for m in c.of("chat") if m["msg_type"] == "output" and m["status"] != "progress"), None
            )

        return self.wait_for(done, timeout)

    def error(self, timeout: float = WAIT_S) -> dict[str, Any]:
        return self.wait_for(lambda c: next(iter(c.of("error")), None), timeout)


@dataclass
class Server:
    app: Flask
    socketio: SocketIO
    db: SQLiteDB
    llm: ScriptedLLM
    settings: ServerSettings

    def client(self, **kwargs: Any) -> ChatClient:
        return ChatClient(self.socketio.test_client(self.app, namespace=NAMESPACE, **kwargs))

    def wait_idle(self, timeout: float = WAIT_S) -> None:
        """Wait until no turn is running (the registry is released just after the final emit)."""
        registry = self.app.extensions["director"].registry
        deadline = time.monotonic() + timeout
        while registry.running():
            assert time.monotonic() < deadline, f"turns still running: {registry.running()}"
            time.sleep(0.005)


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    dbs: list[SQLiteDB] = []

    def make(
        llm: ScriptedLLM | None = None, agents: list[type[BaseAgent]] | None = None, **settings: Any
    ) -> Server:
        db = SQLiteDB(tmp_path / f"director-{len(dbs)}.db")
        dbs.append(db)
        # A title call would take a scripted answer meant for a turn: off unless a test asks for it.
        settings.setdefault("auto_title", False)
        server_settings = load_server_settings(_env_file=None, **settings)
        llm = llm or ScriptedLLM()
        app, socketio = create_app(
            server_settings,
            llm=llm,
            db=db,
            agents=TEST_AGENTS if agents is None else agents,
            frontend_dir=tmp_path / "no-frontend",
        )
        return Server(app, socketio, db, llm, server_settings)

    yield make
    for db in dbs:
        db.close()


@pytest.fixture
def server(make_server: Callable[..., Server]) -> Server:
    return make_server()


def blocking_stream(release: threading.Event, started: threading.Event, text: str = "partial answer"):
    """A ScriptedStream source that writes ``text`` then holds the turn open until ``release``."""
    from director.llm.base import LLMResponse, TextDelta

    def events():
        yield TextDelta(text=text)
        started.set()
        release.wait(WAIT_S)
        yield TextDelta(text=" and more")
        yield LLMResponse(content=text + " and more", finish_reason="stop")

    return events


def start_blocked_turn(
    make_server: Callable[..., Server], content: str = "long task"
) -> tuple[Server, ChatClient, str, threading.Event]:
    """A server with one turn that streamed "partial answer" and now waits for ``release``."""
    release, started = threading.Event(), threading.Event()
    server = make_server(ScriptedLLM(ScriptedStream(blocking_stream(release, started))))
    client = server.client()
    client.emit("chat", {"content": content})
    assert started.wait(WAIT_S)
    session_id = client.wait_for(lambda c: c.of("chat") and c.of("chat")[0]["session_id"])
    return server, client, session_id, release
