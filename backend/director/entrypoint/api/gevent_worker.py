"""gunicorn's gevent worker without monkey-patching (``SERVER_WORKER=gevent``, see thread_bridge.py).

gunicorn's own gevent worker patches the whole standard library first thing. Here only the
listening sockets become gevent sockets: gunicorn's gevent loop, engine.io's gevent driver and
simple-websocket use gevent's classes explicitly, while turns, LiteLLM, the DB and agents run in
native threads on the unpatched standard library.
"""

from __future__ import annotations

import socket

from gevent import socket as gevent_socket
from gunicorn.workers.ggevent import GeventWorker


class UnpatchedGeventWorker(GeventWorker):
    def patch(self) -> None:
        self.sockets = [
            gevent_socket.socket(listener.FAMILY, socket.SOCK_STREAM, fileno=listener.sock.detach())
            for listener in self.sockets
        ]
