"""The front door under attack: a real server, raw Engine.IO traffic from addresses that are not the
user's (127.0.0.x), and a real user who must still get answers.

SERVER_THREADS is small here (16: 14 socket slots, 8 for requests of unadmitted connections, 4 per
address; SERVER_MAX_SOCKETS sets the same 14 slots under the gevent worker) so that anything that held
a thread would show at once.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import socketio

from tests.fakes.attacks import (
    bare_websocket,
    is_closed_by_server,
    open_polling_session,
    post_packet,
    request,
)
from tests.fakes.providers import FakeOpenAI, Reply
from tests.fakes.server_process import ServerProcess, start_server
from tests.integration.conftest import provider_env
from tests.integration.live_client import LiveClient, answer_text, disconnect_all

pytestmark = pytest.mark.integration

TOKEN = "edge-SECRET-token"
ATTACKER = "127.0.0.2"


@pytest.fixture(scope="module")
def edge_fake() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI()
    yield fake
    fake.close()


@pytest.fixture(scope="module")
def server(edge_fake: FakeOpenAI) -> Iterator[ServerProcess]:
    server = start_server(
        provider_env(edge_fake, DIRECTOR_AUTH_TOKEN=TOKEN, SERVER_THREADS="16", SERVER_MAX_SOCKETS="14")
    )
    yield server
    server.cleanup()


def answers_health(url: str) -> bool:
    # A frozen server never answers; how fast it answers under attack is bench/abuse.py's job.
    with urllib.request.urlopen(f"{url}/health", timeout=10) as response:
        return response.status == 200


def user_chats(server: ServerProcess, fake: FakeOpenAI, text: str) -> None:
    fake.script(Reply(text=text))
    client = LiveClient(server.url, auth={"token": TOKEN})
    try:
        assert answer_text(client.ask("are you there?")) == text
    finally:
        disconnect_all([client])


def test_unknown_packets_never_hold_a_thread(server: ServerProcess, edge_fake: FakeOpenAI) -> None:
    """Finding 1: a one-byte POST of an unknown packet made engine.io wait forever for a poll that
    never came; ~260 of them froze the server for good. Now each is answered at once, 60 in a row
    (four times the thread count), and the server keeps serving."""
    for index in range(60):
        sid = open_polling_session(server.url, source=ATTACKER)
        assert sid is not None
        packet = b"6029"[index % 4 : index % 4 + 1]
        assert post_packet(server.url, sid, packet, source=ATTACKER, timeout=5) == 400
    # The same in parallel: refused or answered, but nothing is left holding a thread.
    with ThreadPoolExecutor(32) as pool:

        def attack(_: int) -> int:
            sid = open_polling_session(server.url, source=ATTACKER)
            return 503 if sid is None else post_packet(server.url, sid, b"6", source=ATTACKER, timeout=5)

        assert set(pool.map(attack, range(64))) <= {400, 503}
    assert answers_health(server.url)
    user_chats(server, edge_fake, "still answering")
    assert "Traceback" not in server.logs()


def test_bare_websockets_are_closed_and_cannot_lock_users_out(
    server: ServerProcess, edge_fake: FakeOpenAI
) -> None:
    """Finding 2: websockets that never connect the namespace nor send a token used to keep their
    slots for as long as they answered pings. Now one address gets at most 4 unadmitted requests
    here (half the small pool), and each is closed after the 5 s deadline."""
    user = LiveClient(server.url, auth={"token": TOKEN})  # admitted before the flood
    sockets = [bare_websocket(server.url, source="127.0.0.3") for _ in range(12)]
    try:
        opened = [sock for sock in sockets if sock is not None]
        assert len(opened) == 4  # the per-address cap; the rest got 503
        edge_fake.script(Reply(text="admitted users keep chatting"))
        assert answer_text(user.ask("hello")) == "admitted users keep chatting"
        user_chats(server, edge_fake, "new users still get in")  # from another address
        assert answers_health(server.url)
        # Within the deadline (5 s) plus the reaper's period, the server hangs up on every one.
        assert all(is_closed_by_server(sock, timeout=8) for sock in opened)
    finally:
        for sock in sockets:
            if sock is not None:
                sock.close()
        disconnect_all([user])
    assert bare_websocket(server.url, source="127.0.0.3") is not None  # the address's slots are back


def test_a_polling_session_that_never_authenticates_is_closed(server: ServerProcess) -> None:
    sid = open_polling_session(server.url, source="127.0.0.4")
    started = time.monotonic()
    # A long-poll would be held for 45 s (ping interval + timeout); unadmitted, it ends at the deadline.
    status, body = request(
        server.url, "GET", f"/socket.io/?EIO=4&transport=polling&sid={sid}", source="127.0.0.4", timeout=20
    )
    assert time.monotonic() - started < 10
    assert status == 400 or body.startswith(b"1")  # bad request, or engine.io's close packet
    status, _ = request(
        server.url, "GET", f"/socket.io/?EIO=4&transport=polling&sid={sid}", source="127.0.0.4"
    )
    assert status == 400  # the session is gone


def test_foreign_host_names_get_400_everywhere(server: ServerProcess) -> None:
    """Finding 3: with a rebinding DNS name, a hostile page could read every session."""
    evil = {"Host": f"evil.example:{server.port}", "Origin": f"http://evil.example:{server.port}"}
    for path in ("/session", "/health", "/", "/socket.io/?EIO=4&transport=polling"):
        req = urllib.request.Request(f"{server.url}{path}", headers=evil)
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(req, timeout=5)
        assert refused.value.code == 400, path
        assert refused.value.headers.get("Access-Control-Allow-Origin") is None
        assert json.loads(refused.value.read())["code"] == "host_not_allowed"
    # The server's own names still work.
    for host in (f"127.0.0.1:{server.port}", f"localhost:{server.port}"):
        req = urllib.request.Request(f"{server.url}/health", headers={"Host": host})
        assert urllib.request.urlopen(req, timeout=5).status == 200


def test_a_deployment_names_its_own_host(edge_fake: FakeOpenAI) -> None:
    env = provider_env(edge_fake, DIRECTOR_ALLOWED_HOSTS="chat.example.com")
    with start_server(env) as custom:
        req = urllib.request.Request(f"{custom.url}/session", headers={"Host": "chat.example.com"})
        assert urllib.request.urlopen(req, timeout=5).status == 200
        req = urllib.request.Request(f"{custom.url}/session", headers={"Host": "other.example.com"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(req, timeout=5)
        assert refused.value.code == 400


def connect_error_of(url: str, **connect: object) -> object:
    """Connect a real client expecting refusal; returns what the server said."""
    client = socketio.Client(reconnection=False)
    said: list[object] = []
    client.on("connect_error", lambda data: said.append(data), namespace="/chat")
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(url, namespaces=["/chat"], transports=["websocket"], wait_timeout=5, **connect)
    return said[0] if said else None


def test_the_token_is_read_only_from_the_auth_payload(server: ServerProcess) -> None:
    """Finding 7: a token in the URL ends up in logs and history; and a refusal says `unauthorized`."""
    refusal = connect_error_of(f"{server.url}?token={TOKEN}")
    assert isinstance(refusal, dict) and refusal["data"] == {"code": "unauthorized"}, refusal
    assert refusal["message"] == "A valid auth token is required."
    refusal = connect_error_of(server.url, auth={"token": "wrong"})
    assert isinstance(refusal, dict) and refusal["data"] == {"code": "unauthorized"}, refusal
    assert refusal["message"] == "A valid auth token is required."
    assert TOKEN not in server.logs()


MALFORMED = [
    b"42/chat,[]",
    b"42/chat,[5,{}]",
    b"42/chat,[null]",
    b'42/chat,["chat",{"content":"x"},{"extra":1}]',
    b'42/chat,{"not":"a list"}',
    b'42/chat,"chat"',
    b'451-/chat,["chat",{"_placeholder":true,"num":0}]',
    b"4x",
    b"49/chat,[]",
    b'42/chat,["nonsense",{}]',
]


def test_malformed_packets_get_an_error_event_and_no_traceback(server: ServerProcess) -> None:
    """Finding 6: ~1,070 bad packets made 1,237 tracebacks. Now each gets `invalid_payload`, and the
    log gets at most one short line a minute per kind."""
    logged_before = len(server.logs())
    sid = open_polling_session(server.url)
    assert post_packet(server.url, sid, b'40/chat,{"token":"' + TOKEN.encode() + b'"}') == 200
    status, body = request(server.url, "GET", f"/socket.io/?EIO=4&transport=polling&sid={sid}")
    assert status == 200 and body.startswith(b"40/chat,")
    for _ in range(5):
        for packet in MALFORMED:
            assert post_packet(server.url, sid, packet) == 200
    errors: list[dict] = []
    deadline = time.monotonic() + 10
    while len(errors) < 5 * len(MALFORMED) and time.monotonic() < deadline:
        _, body = request(server.url, "GET", f"/socket.io/?EIO=4&transport=polling&sid={sid}")
        for packet in body.split(b"\x1e"):
            if packet.startswith(b'42/chat,["error"'):
                errors.append(json.loads(packet[len(b"42/chat,") :])[1])
    assert len(errors) == 5 * len(MALFORMED)
    assert {error["code"] for error in errors} == {"invalid_payload"}
    logs = server.logs()[logged_before:]
    assert "Traceback" not in logs and "Exception in thread" not in logs
    assert len(logs.splitlines()) <= 6  # throttled: one line per kind, not one per packet
    assert answers_health(server.url)


def test_the_websocket_upgrade_probe_is_not_logged(server: ServerProcess, edge_fake: FakeOpenAI) -> None:
    logged_before = len(server.logs())
    client = LiveClient(server.url, auth={"token": TOKEN}, transports=["polling", "websocket"])
    try:
        edge_fake.script(Reply(text="upgraded"))
        assert answer_text(client.ask("hi")) == "upgraded"
        assert client.sio.transport() == "websocket"
    finally:
        disconnect_all([client])
    assert "undecodable" not in server.logs()[logged_before:]


def test_sigterm_stops_at_once_after_the_attacks(server: ServerProcess) -> None:
    """Runs last: before the fix only SIGKILL ended a server frozen by the attack."""
    for _ in range(5):
        sid = open_polling_session(server.url, source=ATTACKER)
        if sid is not None:
            post_packet(server.url, sid, b"6", source=ATTACKER, timeout=5)
    bare = bare_websocket(server.url, source="127.0.0.5")
    started = time.monotonic()
    try:
        assert server.stop() == 0
    finally:
        if bare is not None:
            bare.close()
    assert time.monotonic() - started < 5
