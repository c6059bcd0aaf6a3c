"""The ``/chat`` Socket.IO namespace: validates client events and starts turns.

Handlers never run a turn themselves (a turn takes seconds); they validate, join the session's
room and hand off to ``TurnRunner``, which runs the turn in a background task. Every client mistake
becomes an ``error`` event ``{code, message}`` to that client only, and nothing else happens.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from flask import request
from flask_socketio import ConnectionRefusedError as SocketRefusedError
from flask_socketio import Namespace, emit, join_room

from director.core.session import Emit, ServerEvent, new_id
from director.entrypoint.api.admission import EIO_SID_KEY
from director.entrypoint.api.live_turns import live_output
from director.entrypoint.api.payloads import ErrorCode, parse_chat, parse_session_ref
from director.entrypoint.api.security import token_matches
from director.errors import BadPayloadError, ServerStoppingError, SessionBusyError, StorageFullError
from director.log_throttle import ThrottledLog

if TYPE_CHECKING:
    from flask_socketio import SocketIO

    from director.entrypoint.api.state import ServerState

logger = logging.getLogger(__name__)
_throttled = ThrottledLog(logger)

NAMESPACE = "/chat"


def room_emitter(socketio: SocketIO, session_id: str) -> Emit:
    """The ``Emit`` handed to core: every event of a session goes to that session's room."""

    def emit_to_room(event: str, payload: dict) -> None:
        socketio.emit(event, payload, to=session_id, namespace=NAMESPACE)

    return emit_to_room


def _send_error(code: str, message: str, **extra: Any) -> None:
    emit(ServerEvent.ERROR, {"code": code, "message": message, **extra})


# What clients may send on /chat; connect/disconnect come from Socket.IO itself.
CLIENT_EVENTS = frozenset({"chat", "stop", "join"})
_LIFECYCLE_EVENTS = frozenset({"connect", "disconnect"})


class ChatNamespace(Namespace):
    def __init__(self, state: ServerState, socketio: SocketIO):
        super().__init__(NAMESPACE)
        self.state = state
        self.io = socketio

    def trigger_event(self, event: Any, *args: Any) -> Any:
        # Flask-SocketIO builds the handler name from the event and calls it with every argument the
        # client sent: a numeric event name or a second argument would raise in a worker thread and
        # print a traceback. Check the shape first; answer a bad one like any other bad payload.
        if event in _LIFECYCLE_EVENTS:
            return super().trigger_event(event, *args)
        sid, payload_args = args[0], args[1:]
        if not isinstance(event, str) or event not in CLIENT_EVENTS:
            return self._refuse(sid, "Unknown event: this namespace takes chat, stop and join.")
        if len(payload_args) > 1:
            return self._refuse(sid, f"{event} takes one JSON object, not {len(payload_args)} arguments.")
        return super().trigger_event(event, *args)

    def _refuse(self, sid: str, message: str) -> None:
        _throttled.info("bad-event", "refused a malformed socket event from %s", sid)
        self.io.emit(
            ServerEvent.ERROR,
            {"code": ErrorCode.INVALID_PAYLOAD.value, "message": message},
            to=sid,
            namespace=self.namespace,
        )

    def on_connect(self, auth: Any = None) -> None:
        if self.state.registry.closed:
            # Shutting down: a socket opened now would hold the worker until gunicorn gives up on it.
            raise SocketRefusedError(ServerStoppingError().message, {"code": ErrorCode.SERVER_STOPPING.value})
        expected = self.state.settings.auth_token
        # Only the handshake's `auth` payload: a token in the URL would end up in proxy logs and
        # browser history, so `?token=` is not read at all.
        presented = auth.get("token") if isinstance(auth, dict) else None
        if not token_matches(expected, presented):
            # Logged without the token, and refused before any handler can run. Socket.IO's own
            # exception (not Python's built-in one) is what carries the documented code to the client.
            logger.warning("socket connection refused: missing or wrong token (from %s)", request.remote_addr)
            # The client's connect_error gets {"message": ..., "data": {"code": "unauthorized"}}.
            raise SocketRefusedError(
                "A valid auth token is required.", {"code": ErrorCode.UNAUTHORIZED.value}
            )
        # Admitted: from now on this connection is no longer on the unauthenticated deadline.
        self.state.admission.admit(request.environ.get(EIO_SID_KEY))

    def on_chat(self, payload: Any = None) -> None:
        sid = request.sid
        try:
            chat = parse_chat(payload, self.state.agent_names, self.state.settings.max_message_chars)
            session_id = chat.session_id or new_id()
            # The claim (atomic busy check) comes first: a client refused as busy must not have
            # joined the room. Joining before the spawn lets the sender see every event, even the echo.
            # By sid, not through Flask's request context: it runs after the message was stored, and
            # bench/soak.py once saw that context gone by then (1 chat in 3,371; cause not found).
            self.state.runner.start(
                chat,
                session_id,
                room_emitter(self.io, session_id),
                before_start=lambda: self.io.server.enter_room(sid, session_id, namespace=NAMESPACE),
            )
        except BadPayloadError as exc:
            _throttled.info("bad-chat", "rejected chat payload from %s: %s", request.sid, exc.code)
            _send_error(exc.code, exc.message)
        except SessionBusyError as exc:
            _send_error(ErrorCode.SESSION_BUSY.value, exc.message, session_id=exc.session_id)
        except StorageFullError as exc:
            # Refused before it started: no session id is handed out for a session that was not stored.
            _send_error(ErrorCode.STORAGE_FULL.value, exc.message, retry_after=exc.retry_after_s)
        except ServerStoppingError as exc:
            _send_error(ErrorCode.SERVER_STOPPING.value, exc.message)
        except Exception:
            logger.exception("chat handler failed")
            _send_error(ErrorCode.INTERNAL.value, "The server could not start this turn. Please try again.")

    def on_stop(self, payload: Any = None) -> None:
        try:
            session_id = parse_session_ref(payload)
        except BadPayloadError as exc:
            _send_error(exc.code, exc.message)
            return
        # Stopping an idle session is a no-op: the turn may have just finished as the user clicked.
        if self.state.registry.stop(session_id):
            logger.info("stop requested for session %s", session_id)

    def on_join(self, payload: Any = None) -> None:
        try:
            session_id = parse_session_ref(payload)
        except BadPayloadError as exc:
            _send_error(exc.code, exc.message)
            return
        join_room(session_id)
        # Joined mid-answer (a reload, a second tab): the answer so far, after which the room's
        # deltas continue it (their offsets tell the client which part it has already).
        live = live_output(self.state.registry, session_id)
        if live is not None:
            emit(ServerEvent.CHAT, live)
