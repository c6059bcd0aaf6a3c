"""``MeteredLLM``: the turn's LLM, wrapped so that every model call is checked and recorded in one place.

Before each call, the budgets (``core/budget.py``) are checked against the database's totals; a
refused call never reaches the provider and ends as an error response (``budget_exceeded`` or
``unpriced_model``) with the details. After each call, one usage row is stored (``db.record_llm_call``),
the call is added to the answer's ``calls`` (through ``on_call``) and one structured log line is written.

The engine's calls and the agents' own (``summarize``, ``compare_models``) go through the same wrapper:
agents are built with the turn's LLM, and which agent made a call is read from its thread's context.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from director.agents.base import current_agent_name
from director.core.budget import Budget
from director.core.session import OutputMessage
from director.db.base import BaseDB
from director.errors import BudgetExceededError, StorageFullError, UnpricedModelError
from director.llm.base import BaseLLM, LLMErrorType, LLMResponse, LLMResponseStatus, StreamEvent
from director.llm.call_log import call_figures, log_call
from director.llm.call_metadata import call_metadata
from director.llm.wrapping import WrappingLLM

logger = logging.getLogger(__name__)

CallSink = Callable[[dict[str, Any]], None]


@dataclass
class CallScope:
    """Whose calls these are. ``msg_id`` is known once the engine made the answer message."""

    session_id: str
    user: str | None = None
    msg_id: Callable[[], str | None] = field(default=lambda: None)
    on_call: CallSink | None = None


class UsageMeter:
    """Server-wide: the database and the budget. ``wrap`` makes one turn's metered LLM."""

    def __init__(self, db: BaseDB, budget: Budget):
        self.db = db
        self.budget = budget

    def wrap(self, llm: BaseLLM, scope: CallScope) -> BaseLLM:
        if not llm.configured:
            return llm  # nothing is sent, nothing is spent: its answer explains the setup
        return MeteredLLM(llm, self, scope)

    def wrap_turn(self, llm: BaseLLM, session_id: str, output: Callable[[], OutputMessage | None]) -> BaseLLM:
        """The metered LLM of one turn, whose answer (once made) is ``output()``."""
        return self.wrap(llm, _turn_scope(session_id, output))


class MeteredLLM(WrappingLLM):
    def __init__(self, inner: BaseLLM, meter: UsageMeter, scope: CallScope):
        super().__init__(inner)
        self.meter = meter
        self.scope = scope

    def rewrap(self, inner: BaseLLM) -> MeteredLLM:
        return MeteredLLM(inner, self.meter, self.scope)

    def _events(self, stream: bool, *args: Any) -> Iterator[StreamEvent]:
        scope = self.scope
        agent = current_agent_name()
        msg_id = scope.msg_id()
        refusal = self._check(agent, msg_id)
        if refusal is not None:
            yield refusal
            return
        metadata = {"session_id": scope.session_id, "msg_id": msg_id, "agent": agent, "user": scope.user}
        events = self._inner_events(stream, *args)
        while True:
            # The metadata is set only while the inner LLM runs, never across our caller's code.
            with call_metadata(metadata):
                event = next(events, None)
            if event is None:
                return
            if isinstance(event, LLMResponse):
                self._record(event, agent, msg_id)
            yield event

    def _check(self, agent: str | None, msg_id: str | None) -> LLMResponse | None:
        try:
            self.meter.budget.check(self.scope.session_id, self.models)
        except BudgetExceededError as exc:
            detail = {
                "budget": exc.budget,
                "spent_usd": exc.spent_usd,
                "limit_usd": exc.limit_usd,
                "setting": exc.setting,
            }
            return self._refused(LLMErrorType.BUDGET_EXCEEDED, exc.message, detail, agent)
        except UnpricedModelError as exc:
            detail = {"models": exc.models, "setting": exc.setting}
            return self._refused(LLMErrorType.UNPRICED_MODEL, exc.message, detail, agent)
        return None

    def _refused(
        self, error_type: LLMErrorType, message: str, detail: dict[str, Any], agent: str | None
    ) -> LLMResponse:
        response = LLMResponse(
            status=LLMResponseStatus.ERROR,
            error_type=error_type,
            content=message,
            error_detail=detail,
            model=self.config.chat_model,
            latency_ms=0.0,
        )
        log_call(self.scope.session_id, agent, response)
        return response

    def _record(self, response: LLMResponse, agent: str | None, msg_id: str | None) -> None:
        figures = {**call_figures(agent, response), "created_at": time.time()}
        log_call(self.scope.session_id, agent, response)
        try:
            self.meter.db.record_llm_call({**figures, "session_id": self.scope.session_id, "msg_id": msg_id})
        except StorageFullError:
            pass  # logged once a minute by the DB layer; the answer itself matters more
        except Exception:
            # Bookkeeping must not fail the user's turn; the line above still has the figures.
            logger.exception("could not store usage of a model call in session %s", self.scope.session_id)
        if self.scope.on_call is not None:
            try:
                self.scope.on_call(figures)
            except Exception:
                logger.exception("could not add a call's usage to the answer in %s", self.scope.session_id)


def _turn_scope(session_id: str, output: Callable[[], OutputMessage | None]) -> CallScope:
    def msg_id() -> str | None:
        message = output()
        return message.msg_id if message is not None else None

    def on_call(call: dict[str, Any]) -> None:
        message = output()
        if message is not None:
            message.add_call(call)  # sent with the answer's next update

    return CallScope(session_id=session_id, msg_id=msg_id, on_call=on_call)
