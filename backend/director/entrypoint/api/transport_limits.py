"""How big one Socket.IO message may be, and making every transport enforce it as the bytes arrive."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask_socketio import SocketIO

# The transport's own limit on one Socket.IO message (an engine.io packet: a polling POST body or a
# websocket message). Far above any valid chat, so an oversized message still reaches the handler and
# is answered `message_too_long`; only beyond it does the transport drop the connection without an
# event (websocket close 1009 "message too big", polling HTTP 400). Documented in the README.
TRANSPORT_MAX_BYTES = 16 * 1024 * 1024


def transport_max_bytes(max_message_chars: int) -> int:
    # Never below the biggest allowed message (4 bytes/char worst case) plus the JSON envelope.
    return max(TRANSPORT_MAX_BYTES, max_message_chars * 4 + 64_000)


def limit_websocket_messages(socketio: SocketIO, max_bytes: int) -> None:
    """Make the websocket layer refuse a message over ``max_bytes`` as it arrives.

    engine.io checks ``max_http_buffer_size`` only after simple-websocket has buffered the whole
    message, and creates simple-websocket without a size limit: one client could make the server
    hold any amount of memory. Both drivers used here (threading, and gevent without gevent-websocket)
    wrap ``SimpleWebSocketWSGI``, which hands its ``server_args`` to ``simple_websocket.Server``; the
    gevent one takes no extra arguments, so a subclass adds the limit to them. The per-server copy of
    the driver table leaves other servers alone.
    """
    eio = socketio.server.eio
    driver = eio._async["websocket"]

    class LimitedWebSocket(driver):  # type: ignore[misc, valid-type]
        def __init__(self, handler: Any, server: Any, **kwargs: Any):
            super().__init__(handler, server, **kwargs)
            self.server_args = {**self.server_args, "max_message_size": max_bytes}

    eio._async = {**eio._async, "websocket": LimitedWebSocket}
