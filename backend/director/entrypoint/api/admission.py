"""Which engine.io connections are admitted, and a deadline for every one that is not.

Anything that can reach the port can open an engine.io session: that happens before the
Socket.IO handshake, so before any token is checked. Such a session must not hold a thread, a slot
or a lock for long. An engine.io connection is *pending* from its handshake until it connects the
``/chat`` namespace (with the token, when one is set); then it is *admitted*.

- Requests of pending connections (and handshakes) share a small pool, ``pending_limit``, with at
  most ``per_address_limit`` per client address: they can take neither the slots admitted users
  need nor, from one address, the whole pool. When the pool is full, a newcomer evicts the oldest
  pending request, so a flood from many addresses cannot keep new users out either.
- A pending connection gets ``PENDING_DEADLINE_S`` to be admitted; then it is closed, and any
  request of it still in flight (a held long-poll, an open websocket) is cut at the TCP level.
- Closing a connection never waits for the client. python-engineio's ``disconnect(sid)`` closes with
  ``wait=True``, which waits for a long-poll that a hostile client never sends: one POST of an
  unknown packet (``6``) then blocks a server thread forever. Here disconnecting puts the close
  packet on the queue and returns; shutting down gives clients a bounded moment to fetch it.

The WSGI side (``capacity.SocketCapacity``) books every Socket.IO request with ``enter``/``leave``.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)

# Seconds a new connection has to connect the /chat namespace (and show its token). A browser does it
# within one round trip of the handshake; documented in the README's Security section.
PENDING_DEADLINE_S = 5.0
REAP_EVERY_S = 0.5
# On shutdown, how long closed connections get to fetch their close packet.
CLOSE_FLUSH_S = 1.0
# Where the handshake's environ keeps its engine.io sid (read by the namespace's connect handler).
EIO_SID_KEY = "director.eio_sid"
# Where a request's ticket travels. Flask-SocketIO copies the environ before engine.io sees it, but
# the copy is shallow: the ticket object is shared, so what engine.io's side learns (the sid of a
# websocket opened without a prior polling handshake) reaches the WSGI side's books.
TICKET_KEY = "director.ticket"
# A connecting client briefly needs two requests (its namespace-connect POST and the long-poll that
# receives the answer), hence the floors.
MIN_PENDING = 8
MIN_PER_ADDRESS = 4
# Addresses that stand for many clients, not one: a local browser and a reverse proxy on this machine
# both connect from here, so a cap per address would be a cap on everyone. The pool, the deadline and
# the eviction still apply; a proxy exposed to the internet limits its own clients (README, Security).
SHARED_ADDRESSES = frozenset({"127.0.0.1", "::1"})


def pending_limit(limit: int) -> int:
    """How many requests of not-yet-admitted connections may be in flight at once: a quarter of
    the socket slots (never fewer than two clients' worth from two addresses)."""
    return min(limit, max(MIN_PENDING, limit // 4))


def per_address_limit(limit: int) -> int:
    """One address gets a quarter of that pool, at least two connecting clients' worth, and never
    the whole pool (unless there are so few threads that nothing else is possible)."""
    return max(MIN_PER_ADDRESS, pending_limit(limit) // 4)


@dataclass(eq=False)
class Ticket:
    """One Socket.IO request in flight that counts against the unadmitted pool."""

    address: str
    started: float
    environ: dict[str, Any]
    eio_sid: str | None = None
    pending: bool = True
    closed: bool = False  # its session was closed; still in flight at the next round, it is cut


class Admission:
    def __init__(
        self,
        limit: int = 224,
        deadline_s: float = PENDING_DEADLINE_S,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.deadline_s = deadline_s
        self.pending_limit = pending_limit(limit)
        self.per_address_limit = per_address_limit(limit)
        self._clock = clock
        self._lock = threading.Lock()
        self._pending: dict[str, float] = {}  # eio sid -> when its handshake happened
        self._admitted: set[str] = set()
        self._tickets: set[Ticket] = set()
        self._by_address: Counter[str] = Counter()
        self._eio: Any = None

    # --- wiring -----------------------------------------------------------------------------------

    def install(self, eio: Any) -> None:
        """Hook an ``engineio.Server``: learn of handshakes and closes; never block on a close."""
        self._eio = eio
        # python-socketio registered its own connect/disconnect handlers; ours run around them.
        on_connect = eio.handlers["connect"]
        on_disconnect = eio.handlers["disconnect"]

        def connect(eio_sid: str, environ: dict[str, Any]) -> Any:
            environ[EIO_SID_KEY] = eio_sid
            ticket = environ.get(TICKET_KEY)
            with self._lock:
                self._pending[eio_sid] = self._clock()
                if ticket is not None:
                    ticket.eio_sid = eio_sid
            return on_connect(eio_sid, environ)

        def disconnect(eio_sid: str, reason: Any = None) -> Any:
            with self._lock:
                self._pending.pop(eio_sid, None)
                self._admitted.discard(eio_sid)
            try:
                return on_disconnect(eio_sid, reason)
            finally:
                # engine.io forgets a closed session only lazily; until then a POST to it raises
                # KeyError outside its own error handling (a 500 and a traceback per request).
                # Forgotten now, later requests of the session get engine.io's plain 400.
                eio.sockets.pop(eio_sid, None)

        eio.on("connect", connect)
        eio.on("disconnect", disconnect)
        # An instance attribute on purpose: python-socketio builds the engine.io server itself, so
        # there is no class to substitute; this replaces the one method that can wait forever.
        eio.disconnect = self._disconnect

    def start_reaper(self) -> None:
        threading.Thread(target=self._reap_forever, name="admission-reaper", daemon=True).start()

    # --- books --------------------------------------------------------------------------------------

    def admit(self, eio_sid: str | None) -> None:
        if not eio_sid:
            return
        with self._lock:
            if self._pending.pop(eio_sid, None) is None:
                return
            self._admitted.add(eio_sid)
            # Its requests in flight (a websocket lasts as long as the connection) leave the pool.
            for ticket in self._tickets:
                if ticket.pending and ticket.eio_sid == eio_sid:
                    self._release(ticket)

    def is_admitted(self, eio_sid: str | None) -> bool:
        return bool(eio_sid) and eio_sid in self._admitted

    @property
    def pending_requests(self) -> int:
        return sum(self._by_address.values())

    def enter(self, environ: dict[str, Any], sid: str | None) -> Ticket | None | bool:
        """Book a Socket.IO request: ``None`` for an admitted connection (nothing to track),
        ``False`` when this client address already has its share of the unadmitted pool, else the
        request's ``Ticket`` (hand it back to ``leave``).

        A full pool does not refuse a newcomer: it evicts the oldest unadmitted request. Refusing
        would let anyone with enough addresses keep new users out for good; evicting means a flood
        only shortens how long an unadmitted connection may wait, and a real client needs one round
        trip to be admitted.
        """
        if self.is_admitted(sid):
            return None
        address = environ.get("REMOTE_ADDR") or "?"
        evicted = None
        with self._lock:
            if address not in SHARED_ADDRESSES and self._by_address[address] >= self.per_address_limit:
                return False
            if self.pending_requests >= self.pending_limit:
                evicted = min((t for t in self._tickets if t.pending), key=lambda t: t.started, default=None)
                if evicted is not None:
                    self._release(evicted)
            ticket = Ticket(address, self._clock(), environ, eio_sid=sid)
            self._tickets.add(ticket)
            self._by_address[address] += 1
        environ[TICKET_KEY] = ticket
        if evicted is not None:
            self._evict(evicted)
        return ticket

    def _evict(self, ticket: Ticket) -> None:
        if ticket.eio_sid and self._eio is not None:
            self._close(ticket.eio_sid)
        _shutdown(ticket.environ)

    def leave(self, ticket: Ticket) -> None:
        with self._lock:
            self._tickets.discard(ticket)
            if ticket.pending:
                self._release(ticket)

    def _release(self, ticket: Ticket) -> None:  # with the lock held
        ticket.pending = False
        self._by_address[ticket.address] -= 1
        if self._by_address[ticket.address] <= 0:
            del self._by_address[ticket.address]

    # --- closing ------------------------------------------------------------------------------------

    def _disconnect(self, sid: str | None = None) -> None:
        if sid is not None:
            self._close(sid)
            return
        sockets = list(self._eio.sockets.values())
        for eio_socket in sockets:
            self._close(eio_socket.sid)
        # Give connected clients a moment to receive their close packet (a poll or the websocket
        # writer takes it), without waiting on any client that never comes back.
        deadline = time.monotonic() + CLOSE_FLUSH_S
        while time.monotonic() < deadline and any(s.queue.unfinished_tasks for s in sockets):
            time.sleep(0.02)

    def _close(self, sid: str) -> None:
        eio = self._eio
        eio_socket = eio.sockets.get(sid)
        if eio_socket is None:
            return
        try:
            eio_socket.close(wait=False, reason=eio.reason.SERVER_DISCONNECT)
        except Exception:  # a socket closing under us from another thread is already what we want
            logger.debug("closing engine.io session %s failed", sid, exc_info=True)
        eio.sockets.pop(sid, None)

    def reap(self) -> int:
        """Close pending connections past the deadline and end their requests; returns how many.

        A request past the deadline first has its session closed, which answers a held long-poll
        (and makes a websocket say goodbye). One still in flight at the next round belongs to a
        client that ignores that: its TCP connection is shut down.
        """
        cutoff = self._clock() - self.deadline_s
        with self._lock:
            stale = [sid for sid, since in self._pending.items() if since <= cutoff]
            for sid in stale:
                del self._pending[sid]
            overdue = [ticket for ticket in self._tickets if ticket.pending and ticket.started <= cutoff]
        to_close = set(stale)
        to_cut = []
        for ticket in overdue:
            if ticket.closed:
                to_cut.append(ticket)
            else:
                ticket.closed = True
                if ticket.eio_sid:
                    to_close.add(ticket.eio_sid)
                else:
                    to_cut.append(ticket)  # no session to close (a handshake that never finished)
        if self._eio is not None:
            for sid in to_close:
                self._close(sid)
        for ticket in to_cut:
            _shutdown(ticket.environ)
        if to_close or to_cut:
            logger.debug("closed %d unadmitted connection(s), cut %d request(s)", len(to_close), len(to_cut))
        return len(to_close) + len(to_cut)

    def _reap_forever(self) -> None:
        # A daemon thread for the process's life: it ends with the worker.
        while True:
            time.sleep(REAP_EVERY_S)
            try:
                self.reap()
            except Exception:
                logger.exception("closing unadmitted connections failed")


def _shutdown(environ: dict[str, Any]) -> None:
    # gunicorn hands the client's socket to the app; shutting it down ends a blocked websocket read
    # (and any write) at once, so the thread is free even if the client ignores the close frame.
    client = environ.get("gunicorn.socket")
    if client is None:
        return
    # Under the gevent worker it is a gevent socket: only its hub's thread may wake the greenlet
    # waiting on it, and the reaper is a native thread, so the shutdown is handed to that hub.
    hub = getattr(client, "hub", None)
    if hub is not None and threading.get_ident() != hub.thread_ident:
        hub.loop.run_callback_threadsafe(_shutdown_socket, client)
    else:
        _shutdown_socket(client)


def _shutdown_socket(client: Any) -> None:
    try:
        client.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already gone
