"""Admission: the books of unadmitted connections, their deadline, and a close that never waits."""

from __future__ import annotations

import queue
from typing import Any

from director.entrypoint.api.admission import EIO_SID_KEY, TICKET_KEY, Admission, pending_limit


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeSocket:
    def __init__(self, sid: str):
        self.sid = sid
        self.queue: queue.Queue[Any] = queue.Queue()
        self.closed_with: list[dict[str, Any]] = []

    def close(self, wait: bool = True, abort: bool = False, reason: Any = None) -> None:
        self.closed_with.append({"wait": wait})
        self.queue.put(None)  # what engine.io's close does: a poll (or the websocket writer) takes it


class FakeEngineIO:
    """The slice of ``engineio.Server`` that Admission touches."""

    class reason:  # noqa: N801 - mirrors engine.io's attribute
        SERVER_DISCONNECT = "server disconnect"

    def __init__(self) -> None:
        self.sockets: dict[str, FakeSocket] = {}
        self.calls: list[tuple[str, str]] = []
        self.handlers = {
            "connect": lambda sid, environ: self.calls.append(("connect", sid)),
            "disconnect": lambda sid, reason=None: self.calls.append(("disconnect", sid)),
        }

    def on(self, event: str, handler: Any) -> None:
        self.handlers[event] = handler

    def handshake(self, sid: str, environ: dict[str, Any]) -> None:
        self.sockets[sid] = FakeSocket(sid)
        self.handlers["connect"](sid, environ)


def installed(clock: Clock, limit: int = 32) -> tuple[Admission, FakeEngineIO]:
    admission = Admission(limit, deadline_s=5.0, clock=clock)
    eio = FakeEngineIO()
    admission.install(eio)
    return admission, eio


def test_a_connection_not_admitted_within_the_deadline_is_closed_without_waiting() -> None:
    clock = Clock()
    admission, eio = installed(clock)
    eio.handshake("late", {})
    eio.handshake("quick", {})
    admission.admit("quick")
    clock.now += 4.9
    assert admission.reap() == 0
    clock.now += 0.2
    assert admission.reap() == 1
    assert eio.sockets.keys() == {"quick"}  # the admitted one is left alone
    # The handlers python-socketio installed still run, around ours.
    assert ("connect", "late") in eio.calls


def test_disconnect_never_waits_for_the_client() -> None:
    # engine.io's own disconnect(sid) waits for a poll the client may never send: a thread lost forever.
    admission, eio = installed(Clock())
    eio.handshake("hostile", {})
    hostile = eio.sockets["hostile"]
    eio.disconnect("hostile")
    assert hostile.closed_with == [{"wait": False}] and "hostile" not in eio.sockets
    # Shutting everything down waits a bounded moment for nobody to fetch the close packet.
    eio.handshake("gone", {})
    eio.disconnect()
    assert eio.sockets == {}


def test_pending_requests_share_a_pool_with_a_cap_per_address() -> None:
    admission = Admission(limit=64, clock=Clock())
    assert admission.pending_limit == pending_limit(64) == 16 and admission.per_address_limit == 4
    assert pending_limit(16) == 8 and Admission(limit=16).per_address_limit == 4
    assert pending_limit(2) == 2  # never more than the socket slots themselves
    attacker = [admission.enter({"REMOTE_ADDR": "10.9.9.9"}, None) for _ in range(6)]
    assert attacker.count(False) == 2  # refused beyond four from one address
    user = admission.enter({"REMOTE_ADDR": "10.1.1.1"}, None)
    assert user  # another address still gets in
    for ticket in attacker[:4]:
        admission.leave(ticket)
        admission.leave(ticket)  # leaving twice frees once
    assert admission.pending_requests == 1


def test_the_local_address_is_not_capped_per_address() -> None:
    # A browser on this machine and a reverse proxy on this machine both connect from 127.0.0.1: a cap
    # per address there would cap every user at once. (Tests and benches attack from 127.0.0.2+.)
    admission = Admission(limit=64)
    local = [admission.enter({"REMOTE_ADDR": "127.0.0.1"}, None) for _ in range(10)]
    assert all(local) and admission.pending_requests == 10
    assert [admission.enter({"REMOTE_ADDR": "127.0.0.2"}, None) for _ in range(5)][-1] is False


def test_a_full_pool_evicts_the_oldest_unadmitted_request_for_a_newcomer() -> None:
    clock = Clock()
    admission, eio = installed(clock, limit=32)  # a pool of 8, 4 per address

    class Client:
        shut = False

        def shutdown(self, how: int) -> None:
            self.shut = True

    flood = []
    for index in range(8):
        clock.now += 0.01
        environ = {"REMOTE_ADDR": f"10.9.0.{index}", "gunicorn.socket": Client()}
        flood.append((admission.enter(environ, None), environ))
    newcomer = admission.enter({"REMOTE_ADDR": "10.1.1.1"}, None)
    assert newcomer and admission.pending_requests == 8
    assert flood[0][1]["gunicorn.socket"].shut  # the oldest was cut to make room
    assert not any(environ["gunicorn.socket"].shut for _, environ in flood[1:])
    admission.leave(flood[0][0])  # its thread finishing later frees nothing twice
    assert admission.pending_requests == 8


def test_admitting_a_connection_moves_its_open_requests_out_of_the_pool() -> None:
    # A websocket opened straight away is one request for the connection's whole life: once the
    # client shows its token it must stop counting against the unadmitted pool.
    clock = Clock()
    admission, eio = installed(clock, limit=16)
    environ: dict[str, Any] = {"REMOTE_ADDR": "10.1.1.1"}
    ticket = admission.enter(environ, None)
    socketio_view = dict(environ)  # Flask-SocketIO hands engine.io a shallow copy
    eio.handshake("ws1", socketio_view)
    assert socketio_view[EIO_SID_KEY] == "ws1" and environ[TICKET_KEY] is ticket
    assert admission.pending_requests == 1
    admission.admit("ws1")
    assert admission.pending_requests == 0 and admission.is_admitted("ws1")
    clock.now += 60
    assert admission.reap() == 0 and "ws1" in eio.sockets
    assert admission.enter({"REMOTE_ADDR": "10.1.1.1"}, "ws1") is None  # its later requests pass freely
    admission.leave(ticket)
    assert admission.pending_requests == 0


def test_requests_of_a_connection_past_its_deadline_are_cut() -> None:
    clock = Clock()
    admission, eio = installed(clock)

    class Client:
        shut = False

        def shutdown(self, how: int) -> None:
            self.shut = True

    client = Client()
    environ = {"REMOTE_ADDR": "10.9.9.9", "gunicorn.socket": client}
    admission.enter(environ, None)
    eio.handshake("bare", dict(environ))
    clock.now += 6
    admission.reap()
    # First its session is closed (a long-poll is answered, a websocket told goodbye)...
    assert "bare" not in eio.sockets and not client.shut
    admission.reap()
    # ...and a request still in flight at the next round is cut at the TCP level.
    assert client.shut


def test_a_closed_connection_leaves_the_books() -> None:
    admission, eio = installed(Clock())
    eio.handshake("a", {})
    admission.admit("a")
    eio.handlers["disconnect"]("a", "client disconnect")
    assert not admission.is_admitted("a") and ("disconnect", "a") in eio.calls
