"""Typed events of one chat turn, made from the server's ``chat`` / ``chat_delta`` payloads.

``TurnTracker`` is the one place that turns payloads into events, shared by the sync and the async
client: it follows the turn's output message (matched by the client's own message id), yields a
``Delta`` per piece of answer, a ``Step`` whenever an agent step starts or changes state, and one
``Final`` with the whole final message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Delta:
    text: str
    session_id: str
    msg_id: str


@dataclass(frozen=True)
class Step:
    agent: str
    status: str  # progress | success | error
    status_message: str
    text: str
    data: Any
    session_id: str


@dataclass(frozen=True)
class Final:
    """The turn's final message: ``status`` is success, error or stopped; ``text`` the answer."""

    message: dict[str, Any]

    @property
    def status(self) -> str:
        return self.message["status"]

    @property
    def session_id(self) -> str:
        return self.message["session_id"]

    @property
    def text(self) -> str:
        return answer_text(self.message)

    @property
    def ok(self) -> bool:
        return self.status == "success"


Event = Delta | Step | Final


def answer_text(message: dict[str, Any]) -> str:
    return "".join(
        block.get("text") or ""
        for block in message.get("content", [])
        if block.get("agent_name") == "assistant"
    )


@dataclass
class TurnTracker:
    client_msg_id: str
    session_id: str | None = None
    msg_id: str | None = None
    final: Final | None = None
    _steps: dict[int, tuple[str, str]] = field(default_factory=dict)
    _streamed: int = 0

    def on_chat(self, message: dict[str, Any]) -> list[Event]:
        if message.get("client_msg_id") != self.client_msg_id:
            return []
        self.session_id = message.get("session_id") or self.session_id
        if message.get("msg_type") != "output":
            return []
        self.msg_id = message.get("msg_id")
        events: list[Event] = []
        for index, block in enumerate(message.get("content", [])):
            if block.get("agent_name") == "assistant":
                continue
            state = (block.get("status", ""), block.get("status_message") or "")
            if self._steps.get(index) != state:
                self._steps[index] = state
                events.append(
                    Step(
                        agent=block.get("agent_name", ""),
                        status=state[0],
                        status_message=state[1],
                        text=block.get("text") or "",
                        data=block.get("data"),
                        session_id=message["session_id"],
                    )
                )
        if message.get("status") != "progress":
            self.final = Final(message)
            events.append(self.final)
        return events

    def on_delta(self, payload: dict[str, Any]) -> list[Event]:
        if self.msg_id is None or payload.get("msg_id") != self.msg_id or self.final is not None:
            return []
        self._streamed += len(payload.get("delta", ""))
        return [Delta(payload.get("delta", ""), payload.get("session_id", ""), self.msg_id)]

    def missing_text(self) -> str:
        """The end of the final answer that no delta brought (a non-streaming model, or deltas lost
        while reconnecting), so a printer that only prints deltas still shows the whole answer."""
        if self.final is None:
            return ""
        return self.final.text[self._streamed :]
