"""SocketCapacity: Socket.IO requests share at most ``limit`` threads; everything else always passes."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from director.entrypoint.api import capacity
from director.entrypoint.api.capacity import SocketCapacity, connection_limit, pool_size, socket_limit
from director.entrypoint.api.settings import load_server_settings


class App:
    """A WSGI app that records calls and can fail."""

    def __init__(self, fail: bool = False):
        self.calls = 0
        self.fail = fail

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        self.calls += 1
        if self.fail:
            raise RuntimeError("boom")
        start_response("200 OK", [])
        return [b"ok"]


class StartResponse:
    def __init__(self) -> None:
        self.status = ""
        self.headers: dict[str, str] = {}

    def __call__(self, status: str, headers: list[tuple[str, str]]) -> None:
        self.status, self.headers = status, dict(headers)


def socket_request() -> dict[str, Any]:
    return {"PATH_INFO": "/socket.io/", "QUERY_STRING": "EIO=4&transport=websocket"}


def test_socket_requests_beyond_the_limit_get_503_with_a_reason() -> None:
    app = App()
    guard = SocketCapacity(app, limit=2)
    open_ones = [guard(socket_request(), StartResponse()) for _ in range(2)]  # not closed: still "open"
    assert guard.active == 2
    refused = StartResponse()
    body = b"".join(guard(socket_request(), refused))
    assert refused.status.startswith("503") and refused.headers["Retry-After"] == "5"
    assert json.loads(body)["code"] == "server_full"
    assert app.calls == 2  # the refused one never reached the app (nor took a thread for long)
    open_ones[0].close()
    assert guard.active == 1
    ok = StartResponse()
    assert b"".join(guard(socket_request(), ok)) == b"ok" and ok.status == "200 OK"


def test_requests_of_an_open_connection_always_pass() -> None:
    # Its polls, posts and websocket upgrade carry the sid: refusing them would drop a client mid-chat.
    app = App()
    guard = SocketCapacity(app, limit=1)
    guard(socket_request(), StartResponse())
    upgrade = StartResponse()
    environ = {"PATH_INFO": "/socket.io/", "QUERY_STRING": "EIO=4&transport=websocket&sid=abc"}
    assert b"".join(guard(environ, upgrade)) == b"ok" and upgrade.status == "200 OK"
    assert guard.active == 2  # counted all the same: the next new connection waits longer


def test_other_requests_always_pass() -> None:
    app = App()
    guard = SocketCapacity(app, limit=1)
    guard(socket_request(), StartResponse())
    for path in ("/health", "/agent", "/", "/assets/app.js"):
        assert b"".join(guard({"PATH_INFO": path}, StartResponse())) == b"ok"
    assert guard.active == 1


def test_slot_freed_when_the_app_raises_and_closing_twice_frees_once() -> None:
    guard = SocketCapacity(App(fail=True), limit=1)
    with pytest.raises(RuntimeError):
        guard(socket_request(), StartResponse())
    assert guard.active == 0
    guard.app = App()
    first = guard(socket_request(), StartResponse())
    first.close()
    first.close()
    assert guard.active == 0


def test_one_warning_while_full(caplog: pytest.LogCaptureFixture) -> None:
    guard = SocketCapacity(App(), limit=1)
    guard(socket_request(), StartResponse())
    with caplog.at_level(logging.WARNING, logger=capacity.logger.name):
        for _ in range(5):
            guard(socket_request(), StartResponse())
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "SERVER_THREADS" in warnings[0]


@pytest.mark.parametrize(("threads", "limit"), [(4, 2), (8, 6), (16, 14), (256, 224)])
def test_socket_share_of_the_threads(threads: int, limit: int) -> None:
    assert socket_limit(threads) == limit


def test_the_connection_limit_follows_the_worker() -> None:
    threaded = load_server_settings(_env_file=None, threads=16, max_sockets=3000, worker="gthread")
    evented = load_server_settings(_env_file=None, threads=16, max_sockets=3000, worker="gevent")
    assert connection_limit(threaded) == 14  # a share of the threads; SERVER_MAX_SOCKETS is not read
    assert connection_limit(evented) == 3000  # no thread per socket: the setting itself


@pytest.mark.parametrize(("limit", "pool"), [(2, 66), (512, 576), (4000, 4500)])
def test_the_gevent_pool_keeps_room_beyond_the_sockets(limit: int, pool: int) -> None:
    assert pool_size(limit) == pool


def test_unadmitted_requests_share_a_pool_with_a_cap_per_address_and_admitted_ones_pass() -> None:
    from director.entrypoint.api.admission import Admission

    admission = Admission(limit=16)  # a pool of 8 unadmitted requests, 4 per address
    guard = SocketCapacity(App(), limit=16, admission=admission)
    held = [guard({**socket_request(), "REMOTE_ADDR": "10.9.9.9"}, StartResponse()) for _ in range(4)]
    refused = StartResponse()
    guard({**socket_request(), "REMOTE_ADDR": "10.9.9.9"}, refused)
    assert refused.status.startswith("503") and guard.active == 4
    held += [guard({**socket_request(), "REMOTE_ADDR": f"10.0.0.{n}"}, StartResponse()) for n in range(4)]
    newcomer = StartResponse()
    held.append(guard({**socket_request(), "REMOTE_ADDR": "10.0.0.9"}, newcomer))
    assert newcomer.status == "200 OK"  # a full pool makes room (the oldest is evicted), never refuses
    admission._admitted.add("abc")  # an admitted connection's requests never wait on that pool
    ok = StartResponse()
    environ = {"PATH_INFO": "/socket.io/", "QUERY_STRING": "EIO=4&transport=polling&sid=abc"}
    assert b"".join(guard(environ, ok)) == b"ok"
    for response in held:
        response.close()
    assert admission.pending_requests == 0


def test_a_connection_that_has_not_authenticated_cannot_post_megabytes() -> None:
    from director.entrypoint.api.admission import Admission

    app = App()
    admission = Admission(limit=16)
    guard = SocketCapacity(app, limit=16, admission=admission)
    big = {
        "PATH_INFO": "/socket.io/",
        "QUERY_STRING": "EIO=4&transport=polling&sid=new",
        "REQUEST_METHOD": "POST",
        "CONTENT_LENGTH": str(10 * 1024 * 1024),
    }
    refused = StartResponse()
    body = b"".join(guard(big, refused))
    assert refused.status.startswith("413") and json.loads(body)["code"] == "payload_too_large"
    assert app.calls == 0 and guard.active == 0
    admission._admitted.add("new")  # once admitted, the message limits of the chat apply instead
    ok = StartResponse()
    assert b"".join(guard(big, ok)) == b"ok"
