"""Malformed packets get an error and one short log line, never a traceback.

python-engineio and python-socketio trust the shape of what arrives: ``42/chat,[]`` raises
IndexError, an empty or non-numeric engine.io packet raises ValueError, and each logs a full
traceback (about 1,000 bad packets made 1,200 tracebacks). Anyone can send those. Three guards:

- ``PollingPayloadGuard`` (WSGI): a long-polling POST whose body engine.io could not decode gets 400
  before engine.io sees it.
- ``install_packet_guard``: websocket frames engine.io could not decode are dropped; every engine.io
  message passes one handler that refuses binary packets (this protocol has none) and turns any
  error while decoding or dispatching into an ``invalid_payload`` error event to that client.
- ``ChatNamespace.trigger_event`` checks the event name and argument count.

Each logs at most one line a minute per kind.
"""

from __future__ import annotations

import base64
import binascii
import io
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from engineio.payload import Payload

from director.core.session import ServerEvent
from director.entrypoint.api.payloads import ErrorCode
from director.entrypoint.api.wsgi_errors import content_length, json_error
from director.log_throttle import ThrottledLog

logger = logging.getLogger(__name__)
_throttled = ThrottledLog(logger)

# Socket.IO packet types 5 and 6 announce binary attachments that follow as separate messages.
_BINARY_PACKET_TYPES = ("5", "6")
_ENGINE_IO_TYPES = frozenset("0123456")
_NOOP = "6"  # an engine.io packet the server ignores: what an undecodable frame is replaced with


def decodable_frame(frame: Any) -> bool:
    """Whether engine.io can decode this websocket frame (the checks its ``Packet.decode`` makes)."""
    if not isinstance(frame, str):
        return True  # bytes are a binary message; refused later by the message guard
    if not frame:
        return False
    if frame[0] == "b":
        try:
            base64.b64decode(frame[1:])  # as leniently as engine.io decodes it
        except (binascii.Error, ValueError):
            return False
        return True
    return frame[0] in _ENGINE_IO_TYPES


def decodable_payload(body: bytes) -> bool:
    """Whether engine.io can decode this long-polling body: packets joined by ``\x1e``, each checked
    as a websocket frame is. This avoids a second JSON parse of every polling POST; only JSONP's
    rare ``d=`` form, which engine.io unwraps itself, is test-decoded whole."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    if text.startswith("d="):
        try:
            Payload(encoded_payload=text)
        except Exception:  # whatever engine.io would have raised on it
            return False
        return True
    if not text:
        return True  # an empty payload is no packets at all
    packets = text.split("\x1e")
    return len(packets) <= Payload.max_decode_packets and all(decodable_frame(p) for p in packets)


def _guarded(websocket_class: type) -> type:
    """The async mode's websocket wrapper, with frames engine.io cannot decode replaced by a no-op."""

    class GuardedWebSocket(websocket_class):  # type: ignore[misc, valid-type]
        def close(self) -> None:
            # engine.io's writer thread closes the websocket when the session ends, which can be after
            # the request ended and gunicorn closed the socket (EBADF), or after the peer vanished:
            # there is nobody left to tell, and a traceback in the log would be noise anyone can cause.
            try:
                super().close()
            except OSError:
                pass

        def wait(self) -> Any:
            frame = super().wait()
            if frame is not None and not decodable_frame(frame):
                _throttled.info("bad-frame", "dropped an undecodable websocket frame (%d chars)", len(frame))
                return _NOOP
            return frame

    return GuardedWebSocket


class PollingPayloadGuard:
    """WSGI middleware: a long-polling POST engine.io cannot decode gets 400 with a reason."""

    def __init__(self, app: Callable[..., Any], max_bytes: int, path: str = "/socket.io"):
        self.app = app
        self.max_bytes = max_bytes
        self.path = path

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("REQUEST_METHOD") != "POST" or not environ.get("PATH_INFO", "").startswith(self.path):
            return self.app(environ, start_response)
        length = content_length(environ)
        if length is None or not 0 <= length <= self.max_bytes:
            return self.app(environ, start_response)  # engine.io refuses it without reading it
        body = environ["wsgi.input"].read(length)
        environ["wsgi.input"] = io.BytesIO(body)
        if "sid" in parse_qs(environ.get("QUERY_STRING", "")) and not decodable_payload(body):
            _throttled.info("bad-payload", "refused an undecodable polling payload (%d bytes)", len(body))
            return json_error(
                start_response,
                "400 Bad Request",
                ErrorCode.INVALID_PAYLOAD.value,
                "The request body is not a valid Engine.IO payload.",
            )
        return self.app(environ, start_response)


def install_packet_guard(sio: Any, namespace: str) -> None:
    """Wrap the ``socketio.Server``'s engine.io message handler."""
    handle = sio.eio.handlers["message"]

    def refuse(eio_sid: str, why: str) -> None:
        _throttled.info("bad-packet", "refused a malformed socket packet: %s", why)
        sid = sio.manager.sid_from_eio_sid(eio_sid, namespace)
        if sid is None:
            return  # not connected to the namespace: nobody to answer
        sio.emit(
            ServerEvent.ERROR,
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
    # engine.io builds the websocket wrapper from this table per connection; there is no other hook
    # between a frame arriving and engine.io decoding it outside its own error handling.
    websocket_class = sio.eio._async.get("websocket")
    if websocket_class is not None:  # None: an async mode without websockets
        sio.eio._async = {**sio.eio._async, "websocket": _guarded(websocket_class)}
