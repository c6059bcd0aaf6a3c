"""A chat session: its messages, content blocks and the events that publish them.

This is the data model of the socket protocol (see docs/architecture.md). Everything here is plain
pydantic; the socket layer supplies ``Emit`` and the DB, so core never imports Flask.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field, PrivateAttr

from director.core.delta_batcher import DeltaBatcher

if TYPE_CHECKING:
    from director.core.branches import BranchTurn
    from director.db.base import BaseDB

logger = logging.getLogger(__name__)

# (event_name, payload). Built by the socket layer (emit to the session's room on /chat).
Emit = Callable[[str, dict], None]


class ServerEvent(StrEnum):
    """The events the server sends on ``/chat`` (the protocol is in docs/architecture.md)."""

    CHAT = "chat"  # a whole message: the input once, the output again each time it changes
    # {session_id, conv_id, msg_id, delta, offset}: answer text as it streams; `offset` is where the
    # delta starts in the answer block's text (in code points), so a client can tell what it has.
    CHAT_DELTA = "chat_delta"
    ERROR = "error"  # {code, message}: a client's bad payload or busy session, to that client only
    SESSION_TITLE = "session_title"  # {session_id, title}: the model titled a new chat (core/titles.py)


# Titles are for lists in the UI; the full first message is in the conversation anyway.
TITLE_MAX_CHARS = 80
ASSISTANT = "assistant"


def new_id() -> str:
    return uuid.uuid4().hex


def _noop_emit(event: str, payload: dict) -> None:
    return None


class BlockStatus(StrEnum):
    PROGRESS = "progress"
    SUCCESS = "success"
    ERROR = "error"
    STOPPED = "stopped"  # the answer block of a stopped turn: what was written before the stop


class MsgStatus(StrEnum):
    PROGRESS = "progress"
    SUCCESS = "success"
    ERROR = "error"
    # Ended early on request (Stop) or by a graceful server shutdown: the text is what was written
    # until then, never a complete answer. A client checking ``status`` cannot mistake it for one.
    STOPPED = "stopped"


class StopReason(StrEnum):
    USER = "user"  # the user pressed Stop
    SHUTDOWN = "shutdown"  # the server was shutting down (SIGTERM)


class MsgType(StrEnum):
    INPUT = "input"
    OUTPUT = "output"


class TextContent(BaseModel):
    """A content block. ``agent_name == "assistant"`` marks the final answer; an agent's block carries
    a short summary in ``text`` and the JSON it returned in ``data``."""

    type: Literal["text"] = "text"
    status: BlockStatus = BlockStatus.SUCCESS
    status_message: str | None = None
    agent_name: str | None = None
    text: str = ""
    data: dict[str, Any] | None = None


def make_title(text: str) -> str:
    """First line-ish of the first user message, whitespace collapsed, cut at a word boundary."""
    title = " ".join(text.split())
    if len(title) <= TITLE_MAX_CHARS:
        return title
    cut = title[:TITLE_MAX_CHARS].rsplit(" ", 1)[0] or title[:TITLE_MAX_CHARS]
    return cut + "…"


def content_to_blocks(content: str | list[Any]) -> list[TextContent]:
    """Accept the protocol's two content shapes: a string, or a list of ``{"type": "text", "text"}`` parts."""
    if isinstance(content, str):
        return [TextContent(text=content)]
    blocks: list[TextContent] = []
    for part in content:
        if isinstance(part, TextContent):
            blocks.append(part)
        elif isinstance(part, str):
            blocks.append(TextContent(text=part))
        elif isinstance(part, dict) and part.get("type", "text") == "text":
            blocks.append(TextContent(text=str(part.get("text", ""))))
        else:
            raise ValueError("content parts must be strings or {'type': 'text', 'text': ...} objects")
    return blocks


class BaseMessage(BaseModel):
    session_id: str
    conv_id: str = Field(default_factory=new_id)
    msg_id: str = Field(default_factory=new_id)
    msg_type: MsgType
    content: list[TextContent] = Field(default_factory=list)
    agents: list[str] = Field(default_factory=list)
    client_msg_id: str | None = None
    created_at: float = Field(default_factory=time.time)
    # Branches: the message this one follows (an input: the answer it replies to, None at the start;
    # an output: its input). See core/branches.py.
    parent_msg_id: str | None = None


class InputMessage(BaseMessage):
    msg_type: Literal[MsgType.INPUT] = MsgType.INPUT
    # Attached images, Director's content-part shape with data: URLs (core/images.py); stored with the message.
    images: list[dict[str, Any]] = Field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n\n".join(block.text for block in self.content if block.text)


class ChatRequest(BaseModel):
    """A validated ``chat`` event (the socket layer checks it; the turn runner runs it). ``session_id`` None means "start a new session"."""

    session_id: str | None = None
    conv_id: str | None = None
    client_msg_id: str | None = None
    text_parts: list[str]
    agents: list[str] = Field(default_factory=list)
    # Branches: the answer the message replies to, when the client named one (``parent_given``; None
    # then means the start of the conversation). Not named: the branch being viewed continues.
    parent_msg_id: str | None = None
    parent_given: bool = False
    # The chat's model / reasoning_effort changes this message carries (stored for the session).
    settings: dict[str, str | None] = Field(default_factory=dict)
    images: list[dict[str, Any]] = Field(default_factory=list)  # checked image_url parts

    @property
    def text(self) -> str:
        return "\n\n".join(self.text_parts)


class TurnUsage(BaseModel):
    """What the turn's model calls consumed: the engine's own and those its agents made."""

    model: str | None = None  # the turn's model that answered last (a fallback, if one took over)
    llm_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    # USD, summed over the calls LiteLLM could price; None when it could price none of them.
    cost_usd: float | None = None


class OutputMessage(BaseMessage):
    """The turn's answer, re-sent whole (``chat`` event) and persisted on every state change.

    Agents running in parallel update their own blocks from worker threads, so every mutation
    goes through ``_lock`` and ``push_update`` dumps, persists and emits under it: clients never
    see an older state after a newer one.
    """

    msg_type: Literal[MsgType.OUTPUT] = MsgType.OUTPUT
    status: MsgStatus = MsgStatus.PROGRESS
    actions: list[str] = Field(default_factory=list)
    stopped: bool = False  # kept for older clients: true exactly when status is "stopped"
    stop_reason: StopReason | None = None
    updated_at: float = Field(default_factory=time.time)
    usage: TurnUsage = Field(default_factory=TurnUsage)
    # One entry per model call of the turn, the agents' own included, in order: ``{agent, model,
    # input_tokens, output_tokens, cached_tokens, cost_usd, latency_ms, outcome, created_at}``
    # (``agent`` None for the engine's calls). Filled by the usage meter (core/metered_llm.py).
    calls: list[dict[str, Any]] = Field(default_factory=list)

    _session: Session | None = PrivateAttr(default=None)
    _lock: threading.RLock = PrivateAttr(default_factory=threading.RLock)
    # Set once the final state was saved and sent. A graceful shutdown may finish a turn from another
    # thread while the turn's own thread is still blocked (in a provider read, say); whatever that
    # thread does afterwards must not overwrite or contradict the final state clients were sent.
    _sealed: bool = PrivateAttr(default=False)
    # Merges streamed deltas into at most one chat_delta per interval (core/delta_batcher.py).
    _deltas: DeltaBatcher | None = PrivateAttr(default=None)

    def bind(self, session: Session) -> OutputMessage:
        self._session = session
        return self

    def add_block(self, block: TextContent) -> TextContent:
        with self._lock:
            self.content.append(block)
        return block

    def update_block(self, block: TextContent, **changes: Any) -> None:
        with self._lock:
            for key, value in changes.items():
                setattr(block, key, value)

    def add_usage(self, model: str | None, input_tokens: int, output_tokens: int, cost: float | None) -> None:
        with self._lock:
            usage = self.usage
            usage.llm_calls += 1
            usage.model = model or usage.model
            usage.input_tokens += input_tokens
            usage.output_tokens += output_tokens
            if cost is not None:
                usage.cost_usd = (usage.cost_usd or 0.0) + cost

    def add_call(self, call: dict[str, Any]) -> None:
        with self._lock:
            self.calls.append(call)

    def add_action(self, action: str) -> None:
        with self._lock:
            self.actions.append(action)

    def add_agent(self, agent_name: str) -> None:
        with self._lock:
            if agent_name not in self.agents:
                self.agents.append(agent_name)

    def set_status(self, status: MsgStatus, stopped: bool | None = None) -> None:
        with self._lock:
            self.status = status
            if stopped is not None:
                self.stopped = stopped

    def append_text(self, block: TextContent, delta: str) -> None:
        """Append streamed text to ``block`` and send it as a ``chat_delta`` with its offset.

        One lock for both, so a whole-message snapshot taken by another thread (a periodic save, a
        ``join``) is either before or after a delta, and the delta's offset says which.
        """
        with self._lock:
            offset = len(block.text)
            block.text += delta
            if self._session is not None:
                if self._deltas is None:
                    self._deltas = DeltaBatcher(self._lock, self._send_delta)
                self._deltas.add(block, delta, offset)

    def _send_delta(self, delta: str, offset: int) -> None:
        if self._session is not None:
            self._session.emit_delta(self, delta, offset)

    def snapshot(self) -> dict[str, Any] | None:
        """The message as it is now while it is running (None once its final state went out)."""
        with self._lock:
            return None if self._sealed else self.model_dump(mode="json")

    def assistant_block(self) -> TextContent | None:
        with self._lock:
            for block in self.content:
                if block.agent_name == ASSISTANT:
                    return block
        return None

    @property
    def sealed(self) -> bool:
        return self._sealed

    def push_update(self, final: bool = False, context: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """Persist the whole message and emit it as ``chat``. Returns the payload.

        Saved before it is sent: a client is never shown a state the DB does not hold. ``final`` seals
        the message once saved; pushes after that are ignored (the first final state wins), and so is
        their ``context``: the model's context to save with the message, in the same write.
        """
        return self._publish(save=True, final=final, context=context)

    def send_unsaved(self) -> dict[str, Any]:
        """Send the final state without saving it (the DB refused it) and seal the message.

        Only for a final state that itself tells the user it was not saved.
        """
        return self._publish(save=False, final=True)

    def _publish(
        self, save: bool, final: bool, context: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        with self._lock:
            if self._sealed:
                return self.model_dump(mode="json")
            self.updated_at = time.time()
            payload = self.model_dump(mode="json")
            if self._deltas is not None:
                # Deltas alone still spell the whole answer (clients that only append them, the CLI's).
                self._deltas.flush()
            if self._session is not None:
                if save:
                    self._session.save_message(payload, context)
                self._session.emit_event(ServerEvent.CHAT, payload)
            self._sealed = final
        return payload

    def finish(self, apply: Callable[[OutputMessage], None]) -> bool:
        """Apply a final state and push it, atomically with respect to other finishers.

        False (and nothing applied) when the message was already finished.
        """
        with self._lock:
            if self._sealed:
                return False
            apply(self)
            self.push_update(final=True)
        return True


INTERRUPTED_TEXT = (
    "This answer was interrupted before it was finished and saved (the server stopped, or could not "
    "write). Send your message again to continue."
)


def as_interrupted(message: dict[str, Any]) -> dict[str, Any]:
    """The stored ``message`` as a finished one, when it is an output left in ``progress``.

    Only a server killed mid-turn (SIGKILL, power loss) leaves such a row: a graceful stop saves
    the partial result as stopped. Shown as-is, the UI would spin on it forever. The server rewrites
    such rows in storage once at start-up (``BaseDB.finish_unfinished_messages``); the caller decides
    which rows were left by a dead process.
    """
    if message.get("msg_type") != MsgType.OUTPUT or message.get("status") != MsgStatus.PROGRESS:
        return message
    blocks = [
        {
            **block,
            "status": BlockStatus.ERROR.value,
            "status_message": INTERRUPTED_TEXT,
            # An answer cut before its first saved word says so, rather than showing as empty.
            **(
                {"text": INTERRUPTED_TEXT}
                if block.get("agent_name") == ASSISTANT and not block.get("text")
                else {}
            ),
        }
        if block.get("status") == BlockStatus.PROGRESS
        else block
        for block in message.get("content") or []
    ]
    if not any(block.get("agent_name") == ASSISTANT for block in blocks):
        blocks.append(
            TextContent(
                agent_name=ASSISTANT,
                status=BlockStatus.ERROR,
                status_message=INTERRUPTED_TEXT,
                text=INTERRUPTED_TEXT,
            ).model_dump(mode="json")
        )
    return {**message, "status": MsgStatus.ERROR.value, "content": blocks}


class Session:
    """One conversation thread. Cheap to construct; ``create()`` makes sure the DB row exists."""

    def __init__(self, db: BaseDB, session_id: str | None = None, emit: Emit | None = None):
        self.db = db
        self.session_id = session_id or new_id()
        self.emit: Emit = emit or _noop_emit
        # Set by the turn runner: the model's context is then the branch's (core/branches.py).
        self.branch: BranchTurn | None = None

    def create(self, first_message: str | None = None) -> dict[str, Any]:
        """Get the session row, creating it (titled from ``first_message``) when missing."""
        row = self.db.get_session(self.session_id)
        if row is None:
            title = make_title(first_message) if first_message else None
            row = self.db.create_session(self.session_id, title=title)
        elif not row.get("title") and first_message:
            self.db.update_session(self.session_id, title=make_title(first_message))
            row = {**row, "title": make_title(first_message)}
        return row

    def new_input_message(
        self,
        content: str | list[Any],
        agents: list[str] | None = None,
        conv_id: str | None = None,
        client_msg_id: str | None = None,
        parent_msg_id: str | None = None,
    ) -> InputMessage:
        """Build the user's message (not yet persisted: ``ReasoningEngine.run`` publishes it)."""
        return InputMessage(
            session_id=self.session_id,
            conv_id=conv_id or new_id(),
            content=content_to_blocks(content),
            agents=list(agents or []),
            client_msg_id=client_msg_id,
            parent_msg_id=parent_msg_id,
        )

    def new_output_message(
        self,
        conv_id: str | None = None,
        client_msg_id: str | None = None,
        agents: list[str] | None = None,
        parent_msg_id: str | None = None,
    ) -> OutputMessage:
        message = OutputMessage(
            session_id=self.session_id,
            conv_id=conv_id or new_id(),
            client_msg_id=client_msg_id,
            agents=list(agents or []),
            parent_msg_id=parent_msg_id,
        )
        return message.bind(self)

    def publish_input(self, message: InputMessage, saved: bool = False) -> dict[str, Any]:
        """Persist the input message (unless the caller ``saved`` it already) and emit it once so
        other tabs on this session see it."""
        payload = message.model_dump(mode="json")
        if not saved:
            self.save_message(payload)
        self.emit_event(ServerEvent.CHAT, payload)
        return payload

    def save_message(self, payload: dict[str, Any], context: list[dict[str, Any]] | None = None) -> None:
        """Store a message; with ``context``, also the model's context (``save_context_messages``), in
        one write where the session follows a branch (every turn the server runs)."""
        if context is not None and self.branch is not None:
            self.branch.save(self.db, self.session_id, context, with_message=payload)
            return
        if context is not None:
            self.save_context_messages(context)
        self.db.add_or_update_msg_to_conv(payload)

    def get_context_messages(self) -> list[dict[str, Any]]:
        if self.branch is not None:
            return list(self.branch.context)
        return list(self.db.get_context_messages(self.session_id) or [])

    def save_context_messages(self, messages: list[dict[str, Any]]) -> None:
        if self.branch is not None:
            self.branch.save(self.db, self.session_id, messages)
            return
        self.db.add_or_update_context_msg(self.session_id, messages)

    def emit_delta(self, output_msg: OutputMessage, delta: str, offset: int) -> None:
        if output_msg.sealed:
            return  # the final message already went out (shutdown finished the turn meanwhile)
        self.emit_event(
            ServerEvent.CHAT_DELTA,
            {
                "session_id": self.session_id,
                "conv_id": output_msg.conv_id,
                "msg_id": output_msg.msg_id,
                "delta": delta,
                "offset": offset,
            },
        )

    def emit_event(self, event: ServerEvent, payload: dict[str, Any]) -> None:
        # A client that went away must not abort the turn: the result is persisted regardless
        # and shows up when the session is reopened.
        try:
            self.emit(event, payload)
        except Exception:
            logger.exception("emit of %r failed for session %s", event, self.session_id)
