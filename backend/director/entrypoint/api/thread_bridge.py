"""The gevent server's split (``SERVER_WORKER=gevent``): sockets on gevent's hub, everything else in
real OS threads.

gunicorn's gevent worker and engine.io's gevent driver serve every connection as a greenlet on one
hub, so one process holds thousands of sockets. Turns must not run there: a turn's CPU (LiteLLM's
chunk handling, JSON, the DB) would share the hub's one thread with every socket, and an emit would
only leave when the turn yields. So nothing is monkey-patched, and:

- every Socket.IO background task (each turn, each client event's handler, a message queue's
  listener) runs in a native thread of its own, as under the gthread worker. The standard library
  stays the standard library there: blocking sockets, real locks, real sleeps. (Patched sockets in
  native threads would break LiteLLM's shared HTTP pool: a kept-alive connection opened in one thread
  cannot wait on another thread's hub.)
- every other HTTP request (REST, the UI, /health) is answered by a native thread of a pool while its
  greenlet waits cooperatively; only engine.io's own requests stay on the hub.
- an emit from a native thread queues its packet on the hub: engine.io's per-socket send queue is a
  gevent queue, which only the hub's thread may touch, so a put from elsewhere is handed to the hub's
  loop (``run_callback_threadsafe``, FIFO: each socket's packets keep their order) and the socket's
  writer greenlet sends it at once.
"""

from __future__ import annotations

import threading
import types
from collections.abc import Callable, Iterable
from typing import Any

import socketio as socketio_module
from gevent.queue import JoinableQueue
from gevent.threadpool import ThreadPool

SOCKET_IO_PATH = "/socket.io"
# Threads answering REST, the UI and /health at once (gthread's reserve was 32 of 256).
REQUEST_THREADS = 32

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
_REDIS_INITIALIZE = socketio_module.RedisManager.initialize


class HubQueue(JoinableQueue):
    """engine.io's per-socket send queue, safe to put into from any thread."""

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        hub = self.hub
        if threading.get_ident() == hub.thread_ident:
            JoinableQueue.put(self, item, block, timeout)
        else:
            # The queue is unbounded: the put never waits, so the hub runs it as a plain callback.
            hub.loop.run_callback_threadsafe(JoinableQueue.put, self, item)


def start_thread(target: Callable[..., Any], *args: Any, **kwargs: Any) -> threading.Thread:
    """Socket.IO's ``start_background_task`` under the bridge: a native daemon thread per task."""
    thread = threading.Thread(target=target, args=args, kwargs=kwargs, daemon=True)
    thread.start()
    return thread


def install(socketio: Any) -> None:
    """Route a gevent-mode Flask-SocketIO server's emits and background tasks as described above.

    Before any client connects (sockets made earlier would keep a plain gevent queue) and before a
    message queue's listener starts (create_app does both).
    """
    server = socketio.server
    eio = server.eio
    eio._async = {**eio._async, "queue": HubQueue}
    # Flask-SocketIO's start_background_task (TurnRunner's spawn) and python-socketio's own (each
    # event's handler, a pub/sub manager's listener) both end here; engine.io's (pings, websocket
    # readers and writers) stay greenlets on the hub.
    server.start_background_task = start_thread
    manager = server.manager
    if isinstance(manager, socketio_module.RedisManager) and type(manager).initialize is _REDIS_INITIALIZE:
        # python-socketio refuses Redis under gevent unless sockets are monkey-patched: its listener
        # would be a greenlet blocking the hub. Here the listener is a native thread (above) on
        # plain sockets, so only that check is skipped; the pub/sub set-up runs as usual.
        manager.initialize = types.MethodType(socketio_module.PubSubManager.initialize, manager)


class ThreadedRequests:
    """WSGI middleware: requests other than engine.io's are answered in a pool of native threads.

    The response body is read in the thread too (a file, a JSON export), and handed back whole.
    """

    def __init__(self, app: WSGIApp, threads: int = REQUEST_THREADS):
        self.app = app
        # Made in the worker, after the fork: the pool belongs to the hub that serves requests.
        self.pool = ThreadPool(threads)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "").startswith(SOCKET_IO_PATH):
            return self.app(environ, start_response)
        return self.pool.apply(self._answer, (environ, start_response))

    def _answer(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        result = self.app(environ, start_response)
        try:
            return list(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
