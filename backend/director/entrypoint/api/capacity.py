"""Keeps some of gunicorn's threads for REST and the UI however many Socket.IO clients connect.

(Under the gevent worker, ``SERVER_WORKER=gevent``, a socket holds no thread but still a greenlet, a
file and memory: the same guard refuses new connections past ``SERVER_MAX_SOCKETS``.)

Under the gthread worker, an open websocket (or a pending long-poll) holds a thread for as long as it
lasts. Once such connections hold every thread, nothing else is answered (``/health`` included) and
nothing is logged: the server just looks dead. So once Socket.IO requests hold ``limit`` threads, new
connections get ``503`` straight away (Socket.IO clients retry with backoff) and the threads left over
keep serving everyone else.

Only new connections are refused (an engine.io handshake: no ``sid`` yet), plus requests of
connections that have not been admitted (see ``admission.py``). Requests of an admitted connection
(its polls, posts and websocket upgrade) always pass: refusing those would drop a client
mid-conversation, and they briefly need two threads (a long-poll plus a post or upgrade), which the
reserve absorbs.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

from werkzeug.wsgi import ClosingIterator

from director.entrypoint.api.admission import Admission
from director.entrypoint.api.settings import ServerSettings, ServerWorker
from director.entrypoint.api.wsgi_errors import content_length, json_error
from director.log_throttle import ThrottledLog

logger = logging.getLogger(__name__)

SOCKET_IO_PATH = "/socket.io"
WARN_EVERY_S = 60.0
RETRY_AFTER_S = 5
UNADMITTED_MAX_BODY = 64 * 1024

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def socket_limit(threads: int) -> int:
    """Socket.IO's share of ``threads``: all but an eighth (at least two) kept for other requests."""
    return threads - max(2, threads // 8)


def connection_limit(settings: ServerSettings) -> int:
    """The Socket.IO connections one process holds: a share of its threads under gthread; under gevent
    a socket costs no thread, and ``SERVER_MAX_SOCKETS`` (gunicorn's pool and open files) bounds them."""
    if settings.worker == ServerWorker.GEVENT:
        return settings.max_sockets
    return socket_limit(settings.threads)


def pool_size(limit: int) -> int:
    """The gevent worker's connection pool: the socket ``limit`` plus an eighth (at least 64) for REST,
    the UI and /health, so a full server still answers them."""
    return limit + max(64, limit // 8)


class SocketCapacity:
    """WSGI middleware counting Socket.IO requests in flight; refuses new connections beyond ``limit``.

    With an ``Admission``, requests of connections that are not admitted yet are booked there too,
    and refused once its pool for them is full (see ``admission.py``).
    """

    def __init__(self, app: WSGIApp, limit: int, admission: Admission | None = None):
        self.app = app
        self.limit = limit
        self.admission = admission
        self._active = 0
        self._lock = threading.Lock()
        # One warning a minute while refusing (of either kind), not one per refused request.
        self._warnings = ThrottledLog(logger, every_s=WARN_EVERY_S)

    @property
    def active(self) -> int:
        return self._active

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not environ.get("PATH_INFO", "").startswith(SOCKET_IO_PATH):
            return self.app(environ, start_response)
        sid = parse_qs(environ.get("QUERY_STRING", "")).get("sid", [None])[0]
        if self.admission is None:
            trusted = sid is not None
        else:
            trusted = self.admission.is_admitted(sid)
            if not trusted and (content_length(environ) or 0) > UNADMITTED_MAX_BODY:
                # A connection that has not shown its token only needs to send the namespace
                # connect (with the token): nothing it sends may make the server buffer megabytes.
                return _too_large(start_response)
        with self._lock:
            # Only requests of admitted connections pass a full server: they are users mid-chat.
            full = not trusted and self._active >= self.limit
            if not full:
                self._active += 1
        ticket = None if full or trusted or self.admission is None else self.admission.enter(environ, sid)
        if ticket is False:
            with self._lock:
                self._active -= 1
        if full or ticket is False:
            self._warn(environ.get("REMOTE_ADDR") or "?", unadmitted=not full)
            return self._refuse(start_response)
        released = False

        def release() -> None:
            nonlocal released
            with self._lock:
                if released:
                    return
                released = True
                self._active -= 1
            if ticket:
                self.admission.leave(ticket)  # type: ignore[union-attr]

        try:
            # A websocket returns from here only once it has closed; a poll once it is answered.
            result = self.app(environ, start_response)
        except BaseException:
            release()
            raise
        return ClosingIterator(result, [release])

    def _warn(self, address: str, unadmitted: bool) -> None:
        if unadmitted and self.admission is not None:
            self._warnings.warning(
                "refusing",
                "Too many connections that have not authenticated yet (at most %d in all, %d per client "
                "address; latest refused from %s): refusing more until they are admitted or time out.",
                self.admission.pending_limit,
                self.admission.per_address_limit,
                address,
            )
        else:
            self._warnings.warning(
                "refusing",
                "All %d live-connection slots are in use: refusing new Socket.IO connections until "
                "some close. Raise SERVER_THREADS (gthread) or SERVER_MAX_SOCKETS (gevent) to allow more "
                "(each open browser tab holds one).",
                self.limit,
            )

    def _refuse(self, start_response: Callable[..., Any]) -> Iterable[bytes]:
        return json_error(
            start_response,
            "503 Service Unavailable",
            "server_full",
            "The server has too many open connections right now; retrying shortly.",
            [("Retry-After", str(RETRY_AFTER_S))],
        )


def _too_large(start_response: Callable[..., Any]) -> Iterable[bytes]:
    return json_error(
        start_response,
        "413 Content Too Large",
        "payload_too_large",
        "Authenticate first: a connection that has not shown its token may send at most 64 KiB.",
    )
