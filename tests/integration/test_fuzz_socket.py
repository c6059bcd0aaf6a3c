"""Property-based fuzzing of everything a socket can send, against a real server.

Three doors: Socket.IO events from a real client (any event name, any JSON payload), and raw
Engine.IO payloads over long-polling and over websocket (any packet type, any bytes after it).
Whatever arrives, the server must keep answering ``/health`` and must never log a traceback: client
input is answered with an ``error`` event, never with a crash. Bounded: a fixed number of examples
per door and no shrinking database on disk.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator

import pytest
import websocket
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fakes.attacks import open_polling_session, post_packet, request
from tests.fakes.providers import FakeOpenAI, Reply
from tests.fakes.server_process import ServerProcess, start_server
from tests.integration.conftest import provider_env
from tests.integration.live_client import LiveClient, answer_text, disconnect_all

pytestmark = pytest.mark.integration

FUZZ = settings(
    max_examples=120,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=10,
)
ids = st.one_of(st.text(max_size=12), st.integers(), st.none(), st.just("s\n"), st.just("x" * 200))
chat_like = st.fixed_dictionaries(
    {},
    optional={
        "session_id": ids,
        "conv_id": ids,
        "msg_id": ids,
        "content": st.one_of(
            st.text(max_size=40),
            st.lists(
                st.fixed_dictionaries({"type": st.just("text"), "text": st.text(max_size=20)}), max_size=3
            ),
            json_values,
        ),
        "agents": st.one_of(st.lists(st.text(max_size=12), max_size=3), json_values),
    },
)
events = st.one_of(st.sampled_from(["chat", "stop", "join"]), st.text(max_size=10))
# Engine.IO packet types, then Socket.IO ones behind a message ("4"), with and without our namespace.
prefixes = st.sampled_from(["", "0", "1", "2", "3", "4", "5", "6", "7", "40", "41", "42", "43", "44", "45", "46",
                            "49", "42/chat,", "43/chat,7", "45/chat,", "451-/chat,", "40/chat,", "42/other,"])  # fmt: skip
raw_packets = st.builds(lambda prefix, rest: prefix + rest, prefixes, st.text(max_size=60))

TOKEN = "fuzz-token"


@pytest.fixture(scope="module")
def fuzz_server() -> Iterator[tuple[ServerProcess, FakeOpenAI]]:
    fake = FakeOpenAI()
    fake.responder = lambda request: Reply(text="fuzzed")
    server = start_server(provider_env(fake, DIRECTOR_AUTH_TOKEN=TOKEN))
    yield server, fake
    server.cleanup()
    fake.close()


def assert_healthy(server: ServerProcess) -> None:
    # "Answers at all" is the property (a frozen server never does); how fast is bench/abuse.py's job.
    try:
        with urllib.request.urlopen(f"{server.url}/health", timeout=10) as response:
            assert response.status == 200
    except OSError as error:  # the server's own account is what explains a dropped connection
        pytest.fail(f"/health failed: {error!r}\n--- server log ---\n{server.logs()[-6000:]}")


def assert_clean_logs(server: ServerProcess) -> None:
    logs = server.logs()
    assert "Traceback" not in logs and "Exception in thread" not in logs, logs[-4000:]


def test_socket_events_with_any_payload(fuzz_server) -> None:
    server, fake = fuzz_server
    client = LiveClient(server.url, auth={"token": TOKEN})

    @FUZZ
    @given(event=events, payload=st.one_of(chat_like, json_values))
    def send(event: str, payload: object) -> None:
        if not client.sio.connected:
            pytest.fail("the server dropped a client for what it sent")
        client.emit(event, payload)
        assert_healthy(server)

    try:
        send()
        # Still a working server: a real turn from a fresh client.
        time.sleep(0.5)  # let the last fuzzed turns finish
        fake.responder = lambda request: Reply(text="after the fuzz")
        check = LiveClient(server.url, auth={"token": TOKEN})
        try:
            assert answer_text(check.ask("still there?")) == "after the fuzz"
        finally:
            disconnect_all([check])
    finally:
        disconnect_all([client])
    assert_clean_logs(server)


class PollingSession:
    """A raw long-polling session connected to /chat; reopened whenever the server closes it."""

    def __init__(self, url: str):
        self.url = url
        self.sid = ""
        self.open()

    def open(self) -> None:
        sid = open_polling_session(self.url)
        assert sid is not None
        self.sid = sid
        assert post_packet(self.url, sid, ("40/chat," + json.dumps({"token": TOKEN})).encode()) == 200
        status, body = request(self.url, "GET", f"/socket.io/?EIO=4&transport=polling&sid={sid}")
        assert status == 200 and b"40/chat," in body

    def send(self, payload: str) -> None:
        status = post_packet(self.url, self.sid, payload.encode("utf-8", "surrogatepass"), timeout=5)
        assert status in (200, 400)  # answered at once, whatever it was
        if status == 400:
            self.open()


def test_raw_engine_io_packets_over_polling(fuzz_server) -> None:
    server, _ = fuzz_server
    session = PollingSession(server.url)

    @FUZZ
    @given(packets=st.lists(raw_packets, min_size=1, max_size=3))
    def send(packets: list[str]) -> None:
        session.send("\x1e".join(packets))  # several packets in one payload, as engine.io batches them
        assert_healthy(server)

    send()
    assert_clean_logs(server)


def test_raw_engine_io_packets_over_websocket(fuzz_server) -> None:
    server, _ = fuzz_server
    ws_url = server.url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
    holder: dict[str, websocket.WebSocket] = {}

    def connect() -> websocket.WebSocket:
        ws = websocket.create_connection(ws_url, timeout=5)
        assert ws.recv().startswith("0")
        ws.send(json.dumps({"token": TOKEN}).join(["40/chat,", ""]))
        assert ws.recv().startswith("40/chat,")
        return ws

    holder["ws"] = connect()

    @FUZZ
    @given(packet=raw_packets)
    def send(packet: str) -> None:
        try:
            holder["ws"].send(packet)
        except (websocket.WebSocketException, OSError):
            holder["ws"] = connect()  # the server may hang up on a close packet ("1"): fine
        assert_healthy(server)

    try:
        send()
    finally:
        holder["ws"].close()
    assert_clean_logs(server)
