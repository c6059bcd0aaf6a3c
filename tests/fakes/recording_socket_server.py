"""A stand-in Director that records what a client sends: ``/health``, ``/config/check`` and a ``/chat``
namespace whose ``chat`` handler stores the payload and answers with one final message.

For checking fields the real server does not act on yet (e.g. ``model``), which only the payload shows.
"""

from __future__ import annotations

import threading
from typing import Any

import socketio
from werkzeug.serving import make_server


class RecordingSocketServer:
    def __init__(self) -> None:
        self.payloads: list[dict[str, Any]] = []
        self.sio = socketio.Server(async_mode="threading")
        self.sio.on("chat", self._on_chat, namespace="/chat")
        self.sio.on("connect", lambda sid, environ, auth=None: True, namespace="/chat")
        self._server = make_server("127.0.0.1", 0, socketio.WSGIApp(self.sio, self._rest), threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @staticmethod
    def _rest(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        body = b'{"status": "ok", "auth_required": false}' if environ["PATH_INFO"] == "/health" else b"{}"
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]

    def _on_chat(self, sid: str, payload: dict[str, Any]) -> None:
        self.payloads.append(payload)
        answer = {
            "session_id": "s1",
            "msg_id": "m1",
            "client_msg_id": payload.get("msg_id"),
            "msg_type": "output",
            "status": "success",
            "content": [{"type": "text", "status": "success", "agent_name": "assistant", "text": "ok"}],
        }
        self.sio.emit("chat", answer, to=sid, namespace="/chat")

    def close(self) -> None:
        self._server.shutdown()
