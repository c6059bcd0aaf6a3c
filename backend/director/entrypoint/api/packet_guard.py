"""Malformed Socket.IO packets get an ``error`` event and one short log line, never a traceback.

python-socketio trusts the shape of what arrives: ``42/chat,[]`` raises IndexError, an unknown packet
type or a bad namespace prefix raises ValueError, and engine.io then logs a full traceback per packet.
Anyone can send those (about 1,000 bad packets made 1,200 tracebacks). Here every engine.io message
passes through one guard: binary packets (this protocol has none) are refused up front, and any
error while decoding or dispatching becomes an ``invalid_payload`` error event to that client, with
a rate-limited log line.
"""

from __future__ import annotations

import logging
from typing import Any

from director.entrypoint.api.payloads import ErrorCode
from director.log_throttle import ThrottledLog

logger = logging.getLogger(__name__)
_throttled = ThrottledLog(logger)

# Socket.IO packet types 5 and 6 announce binary attachments that follow as separate messages.
_BINARY_PACKET_TYPES = ("5", "6")


def install_packet_guard(sio: Any, namespace: str) -> None:
    """Wrap the ``socketio.Server``'s engine.io message handler."""
    handle = sio.eio.handlers["message"]

    def refuse(eio_sid: str, why: str) -> None:
        _throttled.info("bad-packet", "refused a malformed socket packet: %s", why)
        sid = sio.manager.sid_from_eio_sid(eio_sid, namespace)
        if sid is None:
            return  # not connected to the namespace: nobody to answer
        sio.emit(
            "error",
            {
                "code": ErrorCode.INVALID_PAYLOAD.value,
                "message": "The server could not read that packet. Send events as "
                '["<event>", {JSON object}] (no binary attachments).',
            },
            to=sid,
            namespace=namespace,
        )

    def message(eio_sid: str, data: Any) -> Any:
        if not isinstance(data, str) or data[:1] in _BINARY_PACKET_TYPES:
            return refuse(eio_sid, "binary data")
        try:
            return handle(eio_sid, data)
        except Exception as exc:  # anything here comes from a client's bytes, not from our code
            return refuse(eio_sid, type(exc).__name__)

    sio.eio.on("message", message)
