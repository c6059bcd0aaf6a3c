"""The ``/chat`` Socket.IO namespace: validates client events and starts turns.

Handlers never run a turn themselves (a turn takes seconds); they validate, join the session's
room and hand off to ``TurnRunner``, which runs the turn in a background task. Every client mistake
becomes an ``error`` event ``{code, message}`` to that client only, and nothing else happens.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from flask import request
from flask_socketio import Namespace, emit, join_room

from director.core.session import Emit, new_id
from director.entrypoint.api.payloads import ErrorCode, parse_chat, parse_session_ref
from director.entrypoint.api.security import token_matches
from director.errors import BadPayloadError, ServerStoppingError, SessionBusyError, StorageFullError

if TYPE_CHECKING:
    from flask_socketio import SocketIO

    from director.entrypoint.api.state import ServerState

logger = logging.getLogger(__name__)

NAMESPACE = "/chat"


def room_emitter(socketio: SocketIO, session_id: str) -> Emit:
    """The ``Emit`` handed to core: every event of a session goes to that session's room."""

    def emit_to_room(event: str, payload: dict) -> None:
        socketio.emit(event, payload, to=session_id, namespace=NAMESPACE)

    return emit_to_room


def _send_error(code: str, message: str, **extra: Any) -> None:
    emit("error", {"code": code, "message": message, **extra})


class ChatNamespace(Namespace):
    def __init__(self, state: ServerState, socketio: SocketIO):
        super().__init__(NAMESPACE)
        self.state = state
        self.io = socketio

    def on_connect(self, auth: Any = None) -> None:
        if self.state.registry.closed:
            # Shutting down: a socket opened now would hold the worker until gunicorn gives up on it.
            raise ConnectionRefusedError(
                {"code": ErrorCode.SERVER_STOPPING.value, "message": ServerStoppingError().message}
            )
        expected = self.state.settings.auth_token
        if expected is None:
            return
        presented = auth.get("token") if isinstance(auth, dict) else None
        presented = presented or request.args.get("token")
        if not token_matches(expected, presented):
            # Logged without the token, and refused before any handler can run.
            logger.warning("socket connection refused: missing or wrong token (from %s)", request.remote_addr)
            raise ConnectionRefusedError(
                {"code": ErrorCode.UNAUTHORIZED.value, "message": "A valid auth token is required."}
            )

    def on_chat(self, payload: Any = None) -> None:
        try:
            chat = parse_chat(payload, self.state.agent_names, self.state.settings.max_message_chars)
            session_id = chat.session_id or new_id()
            # The claim (atomic busy check) comes first: a client refused as busy must not have
            # joined the room. Joining before the spawn lets the sender see every event, even the echo.
            self.state.runner.start(
                chat,
                session_id,
                room_emitter(self.io, session_id),
                before_start=lambda: join_room(session_id),
            )
        except BadPayloadError as exc:
            logger.info("rejected chat payload from %s: %s", request.sid, exc.code)
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
