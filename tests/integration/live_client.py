"""A real python-socketio client for integration tests: records events and waits for them."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import socketio

NAMESPACE = "/chat"
WAIT_S = 20.0


class LiveClient:
    def __init__(
        self,
        url: str,
        auth: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        transports: list[str] | None = None,
    ):
        self.sio = socketio.Client(reconnection=False)
        self.events: list[tuple[str, Any]] = []
        # Messages whose events this client no longer records (late copies of a finished turn's).
        self.forgotten: set[str] = set()
        self._changed = threading.Condition()
        for name in ("chat", "chat_delta", "error"):
            self.sio.on(name, self._recorder(name), namespace=NAMESPACE)
        self.sio.connect(
            url,
            namespaces=[NAMESPACE],
            auth=auth,
            headers=headers or {},
            transports=transports or ["websocket"],
            wait_timeout=10,
        )

    def _recorder(self, name: str) -> Callable[[Any], None]:
        def record(payload: Any = None) -> None:
            if isinstance(payload, dict) and payload.get("msg_id") in self.forgotten:
                return
            with self._changed:
                self.events.append((name, payload))
                self._changed.notify_all()

        return record

    def emit(self, event: str, payload: Any) -> None:
        self.sio.emit(event, payload, namespace=NAMESPACE)

    def of(self, name: str) -> list[Any]:
        with self._changed:
            return [payload for event, payload in self.events if event == name]

    def clear(self) -> None:
        with self._changed:
            self.events.clear()

    def wait_for(self, predicate: Callable[[LiveClient], Any], timeout: float = WAIT_S) -> Any:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                result = predicate(self)
                if result:
                    return result
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"timed out after {timeout} s; received: {self.events}")
                self._changed.wait(remaining)

    def outputs(self, session_id: str | None = None) -> list[dict[str, Any]]:
        return [
            m
            for m in self.of("chat")
            if m["msg_type"] == "output" and (session_id is None or m["session_id"] == session_id)
        ]

    def final_output(self, session_id: str | None = None, timeout: float = WAIT_S) -> dict[str, Any]:
        return self.wait_for(
            lambda c: next((m for m in c.outputs(session_id) if m["status"] != "progress"), None), timeout
        )

    def error(self, timeout: float = WAIT_S) -> dict[str, Any]:
        return self.wait_for(lambda c: next(iter(c.of("error")), None), timeout)

    def ask(self, content: Any, timeout: float = WAIT_S, **fields: Any) -> dict[str, Any]:
        """Send one chat and return its final output message (clears earlier events first)."""
        self.clear()
        self.emit("chat", {"content": content, **fields})
        return self.final_output(timeout=timeout)

    def disconnect(self) -> None:
        self.sio.disconnect()


def disconnect_all(clients: Iterable[LiveClient]) -> None:
    """Each disconnect takes ~3 s in python-socketio: do them all at once."""
    clients = list(clients)
    if not clients:
        return
    with ThreadPoolExecutor(max_workers=len(clients)) as pool:
        list(pool.map(lambda c: c.disconnect(), clients))


def answer_text(message: dict[str, Any]) -> str:
    return next((b["text"] for b in message["content"] if b["agent_name"] == "assistant"), "")
