"""Runs one chat turn per session in a background task. No Flask: the socket layer hands in
``spawn`` (socketio.start_background_task) and an ``Emit`` bound to the session's room, and any
``TurnRegistry`` implementation decides whether the session is free."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from director.agents.base import BaseAgent
from director.core.reasoning import EngineLimits, ReasoningEngine
from director.core.session import (
    ASSISTANT,
    BlockStatus,
    ChatRequest,
    Emit,
    MsgStatus,
    ServerEvent,
    Session,
    TextContent,
    new_id,
)
from director.core.turns import TurnRegistry
from director.db.base import BaseDB
from director.llm.base import BaseLLM

logger = logging.getLogger(__name__)

Spawn = Callable[..., Any]

INTERNAL_ERROR_TEXT = (
    "Something went wrong on the server while answering. The error was logged; please try again."
)


class TurnRunner:
    def __init__(
        self,
        db: BaseDB,
        llm: BaseLLM,
        agent_classes: Iterable[type[BaseAgent]],
        limits: EngineLimits,
        registry: TurnRegistry,
        spawn: Spawn,
    ):
        self.db = db
        self.llm = llm
        self.agent_classes = list(agent_classes)
        self.limits = limits
        self.registry = registry
        self.spawn = spawn

    def start(
        self,
        request: ChatRequest,
        session_id: str,
        emit: Emit,
        before_start: Callable[[], None] | None = None,
    ) -> None:
        """Claim the session (raises ``SessionBusyError``) and run the turn in the background.

        ``before_start`` runs once the claim succeeded and before the turn can emit anything.
        """
        self.registry.claim(session_id)
        try:
            if before_start is not None:
                before_start()
            self.spawn(self._run, request, session_id, emit)
        except BaseException:
            self.registry.release(session_id)
            raise

    def _run(self, request: ChatRequest, session_id: str, emit: Emit) -> None:
        engine: ReasoningEngine | None = None
        session = Session(self.db, session_id, emit)
        try:
            session.create(first_message=request.text)
            agents = [agent_class(llm=self.llm) for agent_class in self.agent_classes]
            engine = ReasoningEngine(session, self.llm, agents, limits=self.limits)
            self.registry.attach(session_id, engine)
            input_message = session.new_input_message(
                [{"type": "text", "text": part} for part in request.text_parts],
                agents=request.agents,
                conv_id=request.conv_id,
                client_msg_id=request.client_msg_id,
            )
            engine.run(input_message)
        except Exception:
            # The engine handles its own failures; reaching here is a bug (or the DB went away).
            logger.exception("turn crashed in session %s", session_id)
            self._report_crash(session, engine, request)
        finally:
            self.registry.release(session_id)

    def _report_crash(self, session: Session, engine: ReasoningEngine | None, request: ChatRequest) -> None:
        """Make sure the client sees a final error message rather than a turn stuck in progress."""
        try:
            output = engine.output_message if engine is not None else None
            if output is None:
                output = session.new_output_message(
                    conv_id=request.conv_id or new_id(), client_msg_id=request.client_msg_id
                )
            block = output.assistant_block()
            if block is None:
                block = output.add_block(TextContent(agent_name=ASSISTANT))
            output.update_block(block, status=BlockStatus.ERROR, status_message=INTERNAL_ERROR_TEXT)
            if not block.text:
                output.update_block(block, text=INTERNAL_ERROR_TEXT)
            output.status = MsgStatus.ERROR
            try:
                output.push_update()  # persists and emits
            except Exception:
                # Persisting failed too (DB down): still tell the client.
                logger.exception("could not persist the error message for session %s", session.session_id)
                session.emit_event(ServerEvent.CHAT, output.model_dump(mode="json"))
        except Exception:
            logger.exception("could not report the crash to session %s", session.session_id)
