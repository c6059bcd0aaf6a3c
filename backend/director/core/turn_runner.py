"""Runs one chat turn per session in a background task. No Flask: the socket layer hands in
``spawn`` (socketio.start_background_task) and an ``Emit`` bound to the session's room, and any
``TurnRegistry`` implementation decides whether the session is free."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from director.agents.base import BaseAgent
from director.core.branches import BranchTurn
from director.core.images import NO_VISION, no_vision_message
from director.core.metered_llm import UsageMeter
from director.core.reasoning import EngineLimits, ReasoningEngine
from director.core.session import (
    ASSISTANT,
    BlockStatus,
    ChatRequest,
    Emit,
    InputMessage,
    MsgStatus,
    Session,
    TextContent,
    make_title,
    new_id,
)
from director.core.titles import write_title
from director.core.turns import TurnRegistry
from director.db.base import SESSION_SETTINGS, BaseDB, DatabaseClosedError
from director.errors import BadPayloadError, StorageFullError
from director.llm.base import BaseLLM
from director.llm.for_session import SessionLLMs

logger = logging.getLogger(__name__)

Spawn = Callable[..., Any]

INTERNAL_ERROR_TEXT = (
    "Something went wrong on the server while answering. The error was logged; please try again."
)
NOT_SAVED_TEXT = "This answer could not be saved on the server."


class TurnRunner:
    def __init__(
        self,
        db: BaseDB,
        llm: BaseLLM,
        agent_classes: Iterable[type[BaseAgent]],
        limits: EngineLimits,
        registry: TurnRegistry,
        spawn: Spawn,
        extra_agents: Callable[[], list[type[BaseAgent]]] | None = None,
        wrap_llm: Callable[[BaseLLM, str], BaseLLM] | None = None,
        auto_title: bool = False,
        llms: SessionLLMs | None = None,
        meter: UsageMeter | None = None,
    ):
        self.db = db
        self.llm = llm
        # The one place a turn's LLM comes from: the session's model and reasoning effort.
        self.llms = llms or SessionLLMs(llm)
        self.agent_classes = list(agent_classes)
        self.limits = limits
        self.registry = registry
        self.spawn = spawn
        # Agents whose list changes while the server runs (MCP tools), asked for at each turn.
        self.extra_agents = extra_agents or (lambda: [])
        # Wraps the LLM of one turn's engine (session id given), e.g. to record its exchanges.
        self.wrap_llm = wrap_llm
        self.auto_title = auto_title  # the model titles a new chat after its first answer
        self.meter = meter  # checks budgets and records every model call of a turn

    def start(
        self,
        request: ChatRequest,
        session_id: str,
        emit: Emit,
        before_start: Callable[[], None] | None = None,
    ) -> None:
        """Claim the session (raises ``SessionBusyError``), store the user's message, and run the
        turn in the background.

        The message is stored here, before the turn is accepted, together with the session row when
        the session is new, its title and the shown branch's tip (one transaction). When that cannot be done (``StorageFullError``) the turn
        is refused before it starts: no client is handed the id of a session that was not stored, and
        nothing half-saved remains. ``before_start`` runs once all that succeeded, before the turn
        can emit anything.
        """
        self.registry.claim(session_id)
        try:
            # A model the policy refuses is refused before anything is stored (InvalidModelError).
            self.llms.check(request.settings)
            stored = self.db.get_session(session_id) or {}
            chosen = {name: stored.get(name) for name in SESSION_SETTINGS} | request.settings
            llm = self.llms.build(chosen["model"], chosen["reasoning_effort"])
            if request.images and not llm.supports_vision:
                raise BadPayloadError(
                    NO_VISION, no_vision_message(chosen["model"] or llm, self.llms.vision_model())
                )
            session = Session(self.db, session_id, emit)
            input_message = session.new_input_message(
                [{"type": "text", "text": part} for part in request.text_parts],
                agents=request.agents,
                conv_id=request.conv_id,
                client_msg_id=request.client_msg_id,
            )
            branch = BranchTurn.place(
                self.db, session_id, request.parent_given, request.parent_msg_id, input_message.msg_id
            )
            input_message.parent_msg_id = branch.parent_msg_id
            input_message.images = request.images
            # One transaction: the message, its branch as the one shown from now on (in every tab, after
            # reloads), and a new chat's first title (from the start of the message; the model may
            # write a better one after the answer). The session row read above says whether it has one.
            title = None if stored.get("title") or not request.text else make_title(request.text)
            self.db.save_input_message(input_message.model_dump(mode="json"), title=title)
            session.branch = branch
            if request.settings:
                self.db.set_session_settings(session_id, request.settings)
            if before_start is not None:
                before_start()
            self.spawn(self._run, session, input_message, request, llm)
        except BaseException:
            self.registry.release(session_id)
            raise

    def _run(self, session: Session, input_message: InputMessage, request: ChatRequest, llm: BaseLLM) -> None:
        engine: ReasoningEngine | None = None
        session_id = session.session_id
        try:
            if self.meter is not None:
                # Budgets checked and usage recorded for every call of the turn, the agents' own too.
                llm = self.meter.wrap_turn(llm, session_id, lambda: engine.output_message if engine else None)
            classes = [*self.agent_classes, *self.extra_agents()]
            agents = [agent_class(llm=llm) for agent_class in classes]
            metered = llm
            if self.wrap_llm is not None:
                llm = self.wrap_llm(llm, session_id)
            engine = ReasoningEngine(session, llm, agents, limits=self.limits)
            self.registry.attach(session_id, engine)
            if session.branch is not None:
                session.branch.load_context(self.db, session_id)
            output = engine.run(input_message, input_saved=True)
            if self.auto_title and request.session_id is None and output.status == MsgStatus.SUCCESS:
                # A new chat's first answer is out: its title is written apart, never holding the turn.
                self.spawn(write_title, self.db, metered, session_id, input_message.text, session.emit)
        except StorageFullError as exc:
            # The answer's first save failed (the engine handles later ones itself).
            self._report_crash(session, engine, request, exc)
        except DatabaseClosedError:
            # Only a shutdown that could not wait for this turn closes the DB under it; the drain
            # already logged the session as not saved in time.
            logger.warning("turn in session %s ended after the database closed (shutdown)", session_id)
        except Exception:
            # The engine handles its own failures; reaching here is a bug (or the DB went away).
            logger.exception("turn crashed in session %s", session_id)
            self._report_crash(session, engine, request)
        finally:
            self.registry.release(session_id)

    def _report_crash(
        self,
        session: Session,
        engine: ReasoningEngine | None,
        request: ChatRequest,
        storage_full: StorageFullError | None = None,
    ) -> None:
        """Make sure the client sees a final error message rather than a turn stuck in progress.

        Saved when the DB takes it; otherwise sent unsaved, saying so, so the client is never told
        something the DB does not hold.
        """
        try:
            output = engine.output_message if engine is not None else None
            if output is None:
                output = session.new_output_message(
                    conv_id=request.conv_id or new_id(),
                    client_msg_id=request.client_msg_id,
                    parent_msg_id=session.branch.input_msg_id if session.branch else None,
                )
            block = output.assistant_block()
            if block is None:
                block = output.add_block(TextContent(agent_name=ASSISTANT))
            error_text = storage_full.message if storage_full else INTERNAL_ERROR_TEXT
            data = (
                {"error_type": storage_full.code, "retry_after": storage_full.retry_after_s}
                if storage_full
                else None
            )
            output.update_block(block, status=BlockStatus.ERROR, status_message=error_text, data=data)
            if not block.text:
                output.update_block(block, text=error_text)
            output.status = MsgStatus.ERROR
            try:
                output.push_update(final=True)  # persists and emits
            except Exception as exc:
                # Persisting failed too (DB down or full): tell the client that nothing was saved.
                if not isinstance(exc, StorageFullError):
                    logger.exception("could not persist the error message for session %s", session.session_id)
                if storage_full is None:
                    output.update_block(
                        block, status_message=NOT_SAVED_TEXT, text=f"{block.text}\n\n{NOT_SAVED_TEXT}"
                    )
                output.send_unsaved()
        except Exception:
            logger.exception("could not report the crash to session %s", session.session_id)
