"""The gevent server (``SERVER_WORKER=gevent``): sockets on gevent's hub, turns in native threads.

Every socket is a greenlet in one OS thread, so a turn that ran there (or any call that blocked it)
would stall every client. These tests stream slow turns through real LiteLLM over real HTTP to the
fake provider and check that everyone else keeps getting answers meanwhile, and that each event a
turn's thread emits is handed to the hub and leaves at once, not when something else wakes it.
"""

from __future__ import annotations

import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.fakes.providers import FakeOpenAI, RecordedRequest, Reply
from tests.fakes.server_process import ServerProcess, free_port
from tests.integration.conftest import provider_env
from tests.integration.live_client import LiveClient, answer_text, disconnect_all

pytestmark = pytest.mark.integration

GEVENT = {"SERVER_WORKER": "gevent"}
SLOW_WORDS = [f"word{i}" for i in range(6)]
# Seconds between the provider's chunks: a hub blocked while LiteLLM waits for one would hold
# /health that long, and an emit left waiting for the next wake-up would arrive that late.
CHUNK_DELAY_S = 0.8


def health_seconds(url: str) -> float:
    started = time.monotonic()
    with urllib.request.urlopen(url + "/health", timeout=10) as response:
        assert response.status == 200
    return time.monotonic() - started


def streaming(client: LiveClient) -> bool:
    return bool(client.of("chat_delta"))


class ChunkClockOpenAI(FakeOpenAI):
    """The fake provider, noting when it writes each streamed chunk (same clock as the client's)."""

    def __init__(self) -> None:
        super().__init__()
        self.written: list[tuple[float, str]] = []

    def _stream(self, req: RecordedRequest, reply: Reply) -> Iterator[str]:
        for piece in super()._stream(req, reply):
            self.written.append((time.monotonic(), piece))
            yield piece


class DeltaClockClient(LiveClient):
    """A client noting when each ``chat_delta`` arrives."""

    def __init__(self, url: str):
        self.arrived: list[tuple[float, str]] = []
        super().__init__(url)

    def _recorder(self, name: str) -> Callable[[Any], None]:
        record = super()._recorder(name)
        if name != "chat_delta":
            return record

        def timed(payload: Any = None) -> None:
            self.arrived.append((time.monotonic(), payload["delta"]))
            record(payload)

        return timed


@pytest.fixture(scope="module")
def module_fake() -> Iterator[ChunkClockOpenAI]:
    with ChunkClockOpenAI() as fake:
        yield fake


@pytest.fixture(scope="module")
def module_server(module_fake: ChunkClockOpenAI) -> Iterator[ServerProcess]:
    """One gevent server for the module (each start costs seconds on a loaded machine)."""
    with ServerProcess(provider_env(module_fake, **GEVENT), free_port()) as server:
        server.start()
        server.wait_until_warm()  # the turns here are timed against the server, not LiteLLM's import
        yield server


@pytest.fixture
def clocked_openai(module_fake: ChunkClockOpenAI) -> Iterator[ChunkClockOpenAI]:
    module_fake.reset()
    module_fake.written.clear()
    yield module_fake
    module_fake.reset()


@pytest.fixture
def server(module_server: ServerProcess) -> ServerProcess:
    return module_server


def test_a_slow_streamed_turn_leaves_health_and_other_sessions_answering(
    clocked_openai: ChunkClockOpenAI, server: ServerProcess
) -> None:
    assert "UnpatchedGeventWorker" in server.logs()
    clocked_openai.script(Reply(text=" ".join(SLOW_WORDS), chunk_delay=CHUNK_DELAY_S))
    slow, other = LiveClient(server.url), LiveClient(server.url)
    try:
        slow.emit("chat", {"content": "Take your time"})
        slow.wait_for(streaming)
        # While the slow answer streams (LiteLLM waiting on the provider's next chunk): /health
        # answers promptly, over and over...
        worst = max(health_seconds(server.url) for _ in range(10))
        # ...and a second session runs a whole turn and finishes first.
        clocked_openai.script(Reply(text="quick answer"))
        quick = other.ask("Quick one")
        assert answer_text(quick) == "quick answer"
        assert all(m["status"] == "progress" for m in slow.outputs()), "the slow turn ended first"
        done = slow.final_output()
    finally:
        disconnect_all([slow, other])
    assert worst < 0.5, f"/health took {worst:.2f} s while a turn streamed"
    assert done["status"] == "success"
    assert answer_text(done) == " ".join(SLOW_WORDS)
    assert "Traceback" not in server.logs()


def test_each_event_of_a_turn_thread_reaches_the_client_as_it_is_made(
    clocked_openai: ChunkClockOpenAI, server: ServerProcess
) -> None:
    client = DeltaClockClient(server.url)
    try:
        # A server's first streamed turn pays one-off costs before its first delta (under gthread
        # too, ~0.1-0.2 s here): a turn first, so the figures are every later turn's.
        clocked_openai.script(Reply(text="first"))
        client.ask("A first turn")
        clocked_openai.written.clear()
        client.arrived.clear()
        client.clear()
        clocked_openai.script(Reply(text=" ".join(SLOW_WORDS), chunk_delay=CHUNK_DELAY_S))
        client.emit("chat", {"content": "One word at a time"})
        done = client.final_output()
    finally:
        client.disconnect()
    assert answer_text(done) == " ".join(SLOW_WORDS)
    # Each word left the provider CHUNK_DELAY_S after the previous one; the delta carrying it must
    # reach the client well within that (a packet left on the hub until its next wake-up, or until
    # the turn ended, would arrive a chunk or more late).
    lags = []
    for word in SLOW_WORDS:
        written = next(
            at for at, piece in clocked_openai.written if f'"{word}' in piece or f" {word}" in piece
        )
        arrived = next(at for at, delta in client.arrived if word in delta)
        lags.append(arrived - written)
    assert max(lags) < CHUNK_DELAY_S / 2, (
        f"deltas arrived {[round(lag, 3) for lag in lags]} s after the chunks"
    )


def test_twenty_concurrent_turns_each_stream_whole_and_in_order(
    clocked_openai: ChunkClockOpenAI, server: ServerProcess
) -> None:
    """Twenty sessions at once, each turn in its own thread, every answer complete and in order."""
    clocked_openai.responder = lambda request: Reply(text=" ".join(SLOW_WORDS), chunk_delay=0.05)
    clients = [LiveClient(server.url) for _ in range(20)]
    try:
        threads = [threading.Thread(target=c.emit, args=("chat", {"content": "hi"})) for c in clients]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        finals = [c.final_output() for c in clients]
        deltas = ["".join(d["delta"] for d in c.of("chat_delta")) for c in clients]
    finally:
        disconnect_all(clients)
    assert [answer_text(f) for f in finals] == [" ".join(SLOW_WORDS)] * 20
    assert deltas == [" ".join(SLOW_WORDS)] * 20  # every delta arrived, in order, on every socket
