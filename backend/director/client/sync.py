"""``DirectorClient``: chat with a Director server from Python (python-socketio + REST).

from director.client import DirectorClient

with DirectorClient("http://127.0.0.1:8000") as client:
    turn = client.chat("What does gpt-4o cost?")
    for event in turn:          # Delta, Step, then one Final
        ...
    final = turn.final          # also the generator's return value
"""

from __future__ import annotations

import queue
import time
import uuid
from collections.abc import Generator
from typing import Any

import socketio

from director.client.errors import AuthError, ConnectionLostError, RequestError, ServerUnreachableError
from director.client.events import Event, Final, TurnTracker
from director.client.rest import RestAPI, resolve

NAMESPACE = "/chat"
CONNECT_TIMEOUT_S = 10.0
# No event at all for this long during a turn: the client looks the answer up over REST.
QUIET_CHECK_S = 5.0
# How often a waiting turn looks at request_stop()'s flag.
POLL_S = 0.1


def chat_payload(
    text: str, client_msg_id: str, session_id: str | None, agents: list[str] | None, model: str | None
) -> dict[str, Any]:
    payload: dict[str, Any] = {"content": text, "msg_id": client_msg_id}
    if session_id:
        payload["session_id"] = session_id
    if agents:
        payload["agents"] = list(agents)
    if model:
        payload["model"] = model  # which model answers (servers that do not know the field ignore it)
    return payload


def final_from_session(session: dict[str, Any], client_msg_id: str) -> Final | None:
    """The turn's final message as stored, when it has ended (the way back after a lost connection)."""
    for message in session.get("conversation", []):
        if (
            message.get("msg_type") == "output"
            and message.get("client_msg_id") == client_msg_id
            and message.get("status") != "progress"
        ):
            return Final(message)
    return None


class ChatTurn:
    """Iterate for the turn's events; ``final`` is set once it ended (also the iteration's return value)."""

    def __init__(self, tracker: TurnTracker, generator: Generator[Event, None, Final]):
        self._generator = generator
        self.final: Final | None = None
        self.tracker = tracker  # what arrived so far (session id, the answer's end no delta brought)

    def __iter__(self) -> Generator[Event, None, Final]:
        self.final = yield from self._generator
        return self.final

    def wait(self) -> Final:
        for _ in self:
            pass
        assert self.final is not None
        return self.final


class DirectorClient:
    def __init__(self, url: str | None = None, token: str | None = None):
        self.url, self.token = resolve(url, token)
        self.rest = RestAPI(self.url, self.token)
        self._sio: socketio.Client | None = None
        self._inbox: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.session_id: str | None = None
        # Set by request_stop(), which a signal handler may call: a plain flag, read by the turn's loop.
        self._stop_requested = False
        self.reconnects = 0  # how many times a dropped connection was re-established during a turn

    # ----- connection ------------------------------------------------------------------------

    def connect(self) -> None:
        self.rest.check()
        # handle_sigint=False: Ctrl+C belongs to the caller (the CLI turns it into `stop`), and
        # python-socketio would otherwise disconnect on it.
        sio = socketio.Client(reconnection=False, handle_sigint=False)
        for name in ("chat", "chat_delta", "error", "disconnect"):
            sio.on(name, self._recorder(name), namespace=NAMESPACE)
        try:
            sio.connect(
                self.url,
                namespaces=[NAMESPACE],
                auth={"token": self.token} if self.token else None,
                transports=["websocket"],
                wait_timeout=CONNECT_TIMEOUT_S,
            )
        except socketio.exceptions.ConnectionError as exc:
            if "token" in str(exc).lower() or "unauthorized" in str(exc).lower():
                raise AuthError("The server refused the token: check DIRECTOR_AUTH_TOKEN.") from None
            raise ServerUnreachableError(self.url, str(exc)) from None
        self._sio = sio

    def _recorder(self, name: str) -> Any:
        def record(payload: Any = None) -> None:
            self._inbox.put((name, payload))

        return record

    def close(self) -> None:
        if self._sio is not None:
            self._sio.disconnect()
            self._sio = None
        self.rest.close()

    def __enter__(self) -> DirectorClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _emit(self, event: str, payload: dict[str, Any]) -> None:
        if self._sio is None or not self._sio.connected:
            self.connect()
        assert self._sio is not None
        self._sio.emit(event, payload, namespace=NAMESPACE)

    # ----- chat ------------------------------------------------------------------------------

    def chat(
        self,
        text: str,
        session_id: str | None = None,
        agents: list[str] | None = None,
        model: str | None = None,
    ) -> ChatTurn:
        """Send ``text`` (in ``session_id``, else the client's current session, else a new one)."""
        session_id = session_id or self.session_id
        tracker = TurnTracker(uuid.uuid4().hex, session_id=session_id)
        return ChatTurn(tracker, self._turn(tracker, text, session_id, agents, model))

    def ask(self, text: str, **kwargs: Any) -> Final:
        """``chat`` and wait for the final message."""
        return self.chat(text, **kwargs).wait()

    def stop(self, session_id: str | None = None) -> None:
        """Ask the running turn to stop; its final message (status ``stopped``) still arrives."""
        target = session_id or self.session_id
        if target and self._sio is not None and self._sio.connected:
            self._sio.emit("stop", {"session_id": target}, namespace=NAMESPACE)

    def request_stop(self) -> None:
        """Ask the running turn to stop from anywhere, a SIGINT handler included (it only sets a flag:
        the turn's own loop sends ``stop``); the turn then ends with its stopped final message."""
        self._stop_requested = True

    def _turn(
        self,
        tracker: TurnTracker,
        text: str,
        session_id: str | None,
        agents: list[str] | None,
        model: str | None,
    ) -> Generator[Event, None, Final]:
        client_msg_id = tracker.client_msg_id
        self._drain_inbox()
        self._stop_requested = False
        self._emit("chat", chat_payload(text, client_msg_id, session_id, agents, model))
        reconnected = stop_sent = False
        quiet_since = time.monotonic()
        while tracker.final is None:
            if self._stop_requested and not stop_sent and tracker.session_id:
                self.stop(tracker.session_id)
                stop_sent = True
            try:
                name, payload = self._inbox.get(timeout=POLL_S)
            except queue.Empty:
                if time.monotonic() - quiet_since > QUIET_CHECK_S:
                    # Quiet for a while: the turn may have ended while its events were lost.
                    quiet_since = time.monotonic()
                    if final := self._look_up(tracker):
                        tracker.final = final
                        yield final
                continue
            quiet_since = time.monotonic()
            if name == "chat":
                yield from tracker.on_chat(payload)
                self.session_id = tracker.session_id or self.session_id
            elif name == "chat_delta":
                yield from tracker.on_delta(payload)
            elif name == "error":
                raise RequestError(payload.get("code", "error"), payload.get("message", ""))
            elif name == "disconnect":
                if reconnected:
                    raise ConnectionLostError("The connection dropped twice during the turn.")
                reconnected = True
                self._reconnect(tracker)
                if final := self._look_up(tracker):
                    tracker.final = final
                    yield final
        return tracker.final

    def _reconnect(self, tracker: TurnTracker) -> None:
        """Reconnect once and rejoin the session: the rest of the turn's events arrive again."""
        self.reconnects += 1
        deadline = time.monotonic() + CONNECT_TIMEOUT_S
        while True:
            try:
                self._sio = None
                self.connect()
                break
            except (ServerUnreachableError, RequestError):
                if time.monotonic() > deadline:
                    raise ConnectionLostError(
                        "The connection dropped and the server did not come back."
                    ) from None
                time.sleep(0.5)
        if tracker.session_id and self._sio is not None:
            self._sio.emit("join", {"session_id": tracker.session_id}, namespace=NAMESPACE)

    def _look_up(self, tracker: TurnTracker) -> Final | None:
        if tracker.session_id is None:
            return None
        try:
            return final_from_session(self.rest.session(tracker.session_id), tracker.client_msg_id)
        except RequestError:
            return None

    def _drain_inbox(self) -> None:
        while True:
            try:
                self._inbox.get_nowait()
            except queue.Empty:
                return

    # ----- REST ------------------------------------------------------------------------------

    def sessions(self) -> list[dict[str, Any]]:
        return self.rest.sessions()

    def session(self, session_id: str) -> dict[str, Any]:
        return self.rest.session(session_id)

    def export(self, session_id: str, fmt: str = "md") -> str:
        return self.rest.export(session_id, fmt)
