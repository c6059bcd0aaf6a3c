"""The reasoning loop: ask the model, run the agents it calls, feed results back, until it answers.

No Flask here: the engine talks to clients only through the session's ``Emit`` and persists through
the session's DB. The server runs ``engine.run(input_message)`` in a background thread per turn and
may call ``engine.stop()`` from another thread at any time.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, InvalidStateError, wait
from dataclasses import dataclass, field
from time import monotonic
from typing import Any

from pydantic import BaseModel, Field

from director.agents.base import AgentResponse, AgentStatus, BaseAgent
from director.core.compaction import DEFAULT_COMPACT_AT, Compactor
from director.core.heartbeat import Heartbeat
from director.core.images import user_content, without_images
from director.core.prompts import build_system_prompt
from director.core.session import (
    ASSISTANT,
    BlockStatus,
    Emit,
    InputMessage,
    MsgStatus,
    OutputMessage,
    Session,
    StopReason,
    TextContent,
)
from director.core.stream_saver import DEFAULT_STREAM_SAVE_INTERVAL_S, StreamSaver
from director.errors import (
    AgentTimeoutError,
    InvalidToolArgumentsError,
    StorageFullError,
    ToolCallError,
    UnknownAgentError,
)
from director.llm.base import BaseLLM, LLMErrorType, LLMResponse, LLMResponseStatus, TextDelta, ToolCall
from director.llm.redact import protect

logger = logging.getLogger(__name__)
# Agent tracebacks and provider errors can carry keys: mask them in every line we log.
protect(logger)

DEFAULT_MAX_STEPS = 10
DEFAULT_AGENT_TIMEOUT_S = 120.0

STOPPED_BY = {
    StopReason.USER: "Stopped by the user",
    StopReason.SHUTDOWN: "Stopped: the server was shutting down",
}
# What an answer stopped before its first word says, so it is not mistaken for an empty answer.
NOTHING_WRITTEN_TEXT = "Stopped before any answer was written."
THINKING = "thinking"  # agent_name of the block holding the model's reasoning text
AGENTS_UNAVAILABLE_TEXT = (
    "Agents are unavailable with this model (it cannot call tools): answered without them"
)


class EngineLimits(BaseModel):
    max_steps: int = Field(DEFAULT_MAX_STEPS, ge=1)
    agent_timeout_s: float = Field(DEFAULT_AGENT_TIMEOUT_S, gt=0)
    # How stale the stored text of a streaming answer may get (reloads, other processes, kill -9).
    stream_save_interval_s: float = Field(DEFAULT_STREAM_SAVE_INTERVAL_S, gt=0, le=1.0)
    # Compaction (core/compaction.py): the share of the model's window a request may fill.
    compact_at: float = Field(DEFAULT_COMPACT_AT, gt=0, le=1.0)


class _Stopped(Exception):
    """Internal: unwinds the loop when stop() was requested; carries the answer text streamed so far."""

    def __init__(self, partial_text: str = ""):
        super().__init__("stopped")
        self.partial_text = partial_text


@dataclass
class _AgentCall:
    call: ToolCall
    agent: BaseAgent | None = None
    block: TextContent | None = None
    result: str | None = None  # JSON tool result for the model
    # Set when the engine stops waiting (timeout/stop) so a straggling thread cannot touch the message.
    abandoned: threading.Event = field(default_factory=threading.Event)


def _error_result(message: str, **extra: Any) -> str:
    return json.dumps({"status": AgentStatus.ERROR.value, "message": message, **extra}, default=str)


class ReasoningEngine:
    def __init__(
        self,
        session: Session,
        llm: BaseLLM,
        agents: Iterable[BaseAgent],
        emit: Emit | None = None,
        limits: EngineLimits | None = None,
    ):
        self.session = session
        self.llm = llm
        self.agents = {agent.name: agent for agent in agents}
        # emit is accepted for the documented signature; publishing goes through the session so
        # there is one place that guards against a vanished client.
        if emit is not None:
            session.emit = emit
        self.limits = limits or EngineLimits()
        self._stop = threading.Event()
        self._stop_reason = StopReason.USER
        # Completed by stop() so waiting on agents wakes up at once, without polling.
        self._stop_future: Future[None] = Future()
        self.output_message: OutputMessage | None = None
        # What stop_and_save() needs to save the turn from another thread: the model-facing context
        # and the text streamed in the current step (not yet in the context).
        self._context: list[dict[str, Any]] = []
        self._streamed: list[str] = []
        # Set when stop_and_save() finished the turn: this thread then writes nothing more.
        self._taken_over = False
        self._compactor = Compactor(llm, session, self.limits.compact_at, save=self._save_context)

    # ----- control -----------------------------------------------------------------------------

    def stop(self, reason: StopReason = StopReason.USER) -> None:
        """Ask the running turn to end at the next safe point. Safe from any thread, idempotent."""
        if not self._stop.is_set():
            self._stop_reason = reason
        self._stop.set()
        if not self._stop_future.done():
            try:
                self._stop_future.set_result(None)
            except InvalidStateError:  # lost a race with another stop(): already done
                pass

    def live_message(self) -> dict[str, Any] | None:
        """The answer as it stands, streamed text included, while the turn runs (for ``join``)."""
        output = self.output_message
        return output.snapshot() if output is not None else None

    @property
    def finished(self) -> bool:
        """The turn's final state was sent (and saved, unless the DB refused it): nothing more changes."""
        output = self.output_message
        return output is not None and output.sealed

    @property
    def finishing(self) -> bool:
        """The turn's final state is set and being saved and sent (or already was): a next message
        from the client may arrive a moment before this turn releases its session."""
        output = self.output_message
        return output is not None and (output.sealed or output.status != MsgStatus.PROGRESS)

    def _check_stop(self) -> None:
        if self._stop.is_set():
            raise _Stopped

    def stop_and_save(self, reason: StopReason = StopReason.SHUTDOWN) -> bool:
        """Stop the turn and save its final (stopped) state now, from the calling thread.

        For a graceful shutdown: the turn's own thread may be blocked for seconds (waiting for the
        provider's next chunk) and the database is about to close. The answer is saved and sent as
        the client last saw it; the turn's thread writes nothing after this. False when the turn had
        not published its answer yet (it stops by itself at its first check) or had already finished.
        """
        self.stop(reason)
        output = self.output_message
        if output is None:
            return False
        partial = "".join(self._streamed)
        if not output.finish(self._finish_stopped):
            return False
        self._taken_over = True
        context = list(self._context)
        if partial:
            context.append({"role": "assistant", "content": partial})
        try:
            self.session.save_context_messages(context)
        except Exception:
            logger.exception("saving context failed for session %s", self.session.session_id)
        return True

    # ----- the turn ----------------------------------------------------------------------------

    def run(self, input_message: InputMessage, input_saved: bool = False) -> OutputMessage:
        """Run the turn. ``input_saved``: the caller stored ``input_message`` already (the server does,
        before it accepts the turn), so it is only sent here."""
        session = self.session
        session.publish_input(input_message, saved=input_saved)
        output = session.new_output_message(
            conv_id=input_message.conv_id,
            client_msg_id=input_message.client_msg_id,
            parent_msg_id=input_message.msg_id,
        )
        output.add_action("Asked the model")

        tools_agents = self._allowed_agents(input_message.agents)
        context = self._context = session.get_context_messages()
        question = {"role": "user", "content": user_content(input_message.text, input_message.images)}
        # Asking again after a failed turn (its question is still the last thing in the context)
        # must not show the model the same question twice.
        if not context or context[-1] != question:
            context.append(question)
        # Only now, with the context in place: stop_and_save() saves self._context as the turn's.
        self.output_message = output
        # The answer's first state goes out with the context saved before the first model call, in one
        # write: a server killed during the call still knows the question.
        self._push_with_context(output, context, final=False)
        # Other processes tell a running answer from a crashed one by how recently it was saved.
        heartbeat = Heartbeat(output).start()
        try:
            self._loop(output, context, tools_agents, input_message)
        except _Stopped:
            self._finish_stopped(output)
        except StorageFullError as exc:
            self._finish_unsaved(output, exc)
            return output
        except Exception:
            # Our own bug: keep the turn's record consistent, tell the user plainly, log the traceback.
            logger.exception("turn failed in session %s", session.session_id)
            self._finish_error(
                output, "Something went wrong on the server while answering. Please try again."
            )
        finally:
            heartbeat.stop()
        # The user message is part of history even when the turn failed: the next turn can refer to it.
        # Saved with the final answer, in one write. After stop_and_save() the answer is sealed, and
        # this saves nothing: that call saved the context the client was last shown.
        try:
            self._push_with_context(output, context, final=True)
        except StorageFullError as exc:
            self._finish_unsaved(output, exc)
        return output

    def _push_with_context(self, output: OutputMessage, context: list[dict[str, Any]], final: bool) -> None:
        """``output.push_update`` with the context in the same write; should that write fail, the two
        apart, as they were before they were joined: the answer's own failure is the caller's, the
        context's is logged (``_save_context``) and the turn goes on."""
        try:
            output.push_update(final=final, context=context)
            return
        except StorageFullError:
            pass  # the database layer reports a full disk itself, once a minute
        except Exception as exc:
            # Most often the database is away, and the answer alone fails the same way below. But a
            # context the database refuses (too big for a full disk, say) must not cost the answer.
            logger.warning(
                "saving the answer of session %s with its context failed (%s); saving them apart",
                self.session.session_id,
                exc,
            )
        self._save_context(context)
        output.push_update(final=final)

    def _finish_unsaved(self, output: OutputMessage, exc: StorageFullError) -> None:
        """The DB cannot write: end the turn telling the client its answer was not saved.

        That final state is saved if the DB takes it after all; if not, it is sent unsaved, and
        says so. Either way what the client is finally told is true of what is stored.
        """
        self._finish_error(output, exc.message, {"error_type": exc.code, "retry_after": exc.retry_after_s})
        try:
            output.push_update(final=True)
        except StorageFullError:
            output.send_unsaved()

    def _loop(
        self,
        output: OutputMessage,
        context: list[dict[str, Any]],
        agents: dict[str, BaseAgent],
        input_message: InputMessage,
    ) -> None:
        if agents and not self.llm.supports_tools:
            # A model that cannot call tools still answers, without agents; the steps say why.
            agents = {}
            output.add_action(AGENTS_UNAVAILABLE_TEXT)
        system = {
            "role": "system",
            "content": build_system_prompt(list(agents.values()), input_message.agents),
        }
        tools = [agent.to_llm_tool() for agent in agents.values()] or None
        for step in range(1, self.limits.max_steps + 1):
            self._check_stop()
            if step > 1:  # step 1's action went out with the message's first push
                output.add_action(f"Asked the model again (step {step})")
                output.push_update()
            try:
                response = self._call_model(output, system, context, tools)
            except _Stopped as stopped:
                # Keep what the user already saw, so the next turn's model knows it was said.
                if stopped.partial_text:
                    context.append({"role": "assistant", "content": stopped.partial_text})
                raise
            if not response.ok:
                self._finish_llm_error(output, response)
                return
            assistant_msg: dict[str, Any] = {"role": "assistant", "content": response.content or None}
            if not response.tool_calls:
                context.append({"role": "assistant", "content": response.content})
                self._finish_success(output)
                return
            if self._stop.is_set():
                # Stopped while the model was asking for agents: don't start them.
                if response.content:
                    context.append({"role": "assistant", "content": response.content})
                raise _Stopped(response.content)
            assistant_msg["tool_calls"] = [
                call.model_dump(mode="json", exclude_none=True) for call in response.tool_calls
            ]
            context.append(assistant_msg)
            items = [_AgentCall(call=call) for call in response.tool_calls]
            # Agents can take a while. Should the server die meanwhile, the saved context still
            # answers every tool call (providers reject a replay that does not), as interrupted.
            self._save_context(context + [_tool_message(item, _interrupted_result()) for item in items])
            try:
                self._run_agents(output, items, agents)
            finally:
                # Every tool call must be answered in the context, or providers reject the replay.
                context.extend(_tool_message(item, item.result or _stopped_result()) for item in items)
            self._save_context(context)
        self._finish_max_steps(output)

    def _allowed_agents(self, requested: list[str]) -> dict[str, BaseAgent]:
        if not requested:
            return dict(self.agents)
        allowed = {name: agent for name, agent in self.agents.items() if name in requested}
        unknown = sorted(set(requested) - set(self.agents))
        if unknown:
            # The socket layer rejects unknown names; if one slips through, it's just not offered.
            logger.warning("ignoring unknown requested agents %s", unknown)
        return allowed

    # ----- one LLM step ------------------------------------------------------------------------

    def _call_model(
        self,
        output: OutputMessage,
        system: dict[str, Any],
        context: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None,
    ) -> LLMResponse:
        """One model step. When the history no longer fits the model's context window (and no
        fallback model took it), the oldest turns are dropped from the model's context and the step
        is tried again, so a long session keeps working; the user's conversation is not touched."""
        while True:
            # Near the model's window, the oldest turns become a summary (core/compaction.py).
            refused = self._compactor.fit(output, system, context, tools)
            messages = [system, *context]
            if not self.llm.supports_vision:
                messages = without_images(messages)  # images earlier in the history (another model's)
            response = refused or self._stream_step(output, messages, tools)
            if response.sent and refused is None:
                output.add_usage(response.model, response.send_tokens, response.recv_tokens, response.cost)
            if response.ok and response.reasoning:
                # A "Thinking" step; kept out of the context, so it is never sent back to a provider.
                output.add_block(
                    TextContent(
                        agent_name=THINKING,
                        status=BlockStatus.SUCCESS,
                        status_message="Thinking",
                        text=response.reasoning,
                    )
                )
            if response.error_type != LLMErrorType.CONTEXT_WINDOW:
                return response
            dropped = _drop_oldest_turns(context)
            if not dropped:
                return response  # the current turn alone is too long: nothing older to let go
            logger.info(
                "context window full in session %s: dropped %d messages", self.session.session_id, dropped
            )
            output.add_action(f"Left the {dropped} oldest messages out of the model's context (window full)")
            output.push_update()
            self._save_context(context)

    def _stream_step(
        self, output: OutputMessage, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None
    ) -> LLMResponse:
        stream = self.llm.chat_completions_stream(messages, tools=tools)
        block = output.assistant_block()
        # Text from earlier steps stays in the answer; a separator keeps the client's delta-built
        # text identical to the final message.
        separator = "\n\n" if block is not None and block.text else ""
        streamed: list[str] = []
        self._streamed = streamed
        response: LLMResponse | None = None
        saver = StreamSaver(output.push_update, self.limits.stream_save_interval_s)
        try:
            for event in stream:
                if isinstance(event, LLMResponse):
                    response = event
                    break
                if self._stop.is_set():
                    raise _Stopped("".join(streamed))
                if isinstance(event, TextDelta) and event.text:
                    if block is None:
                        block = output.add_block(
                            TextContent(agent_name=ASSISTANT, status=BlockStatus.PROGRESS, text="")
                        )
                        output.push_update()  # so the client has a block to append deltas into
                    delta = separator + event.text if not streamed else event.text
                    streamed.append(delta)
                    output.append_text(block, delta)
                    saver.changed()
        finally:
            saver.close()  # the step's end is saved by the turn itself, at once
            close = getattr(stream, "close", None)
            if close is not None:
                close()  # release the provider connection when we leave early
        if response is None:
            logger.error("LLM stream ended without a final response")
            return LLMResponse(
                status=LLMResponseStatus.ERROR,
                error_type=LLMErrorType.UNKNOWN,
                content="The model's answer was cut off. Please try again.",
            )
        if response.ok and block is not None and not streamed and response.content:
            # Non-streaming adapters: the whole text only arrives with the response.
            output.update_block(block, text=block.text + separator + response.content)
        elif response.ok and response.content and block is None:
            block = output.add_block(TextContent(agent_name=ASSISTANT, status=BlockStatus.PROGRESS))
            output.update_block(block, text=response.content)
        return response

    # ----- agents ------------------------------------------------------------------------------

    def _run_agents(
        self, output: OutputMessage, items: list[_AgentCall], agents: dict[str, BaseAgent]
    ) -> None:
        """Run the step's tool calls concurrently; each item ends with a JSON ``result``."""
        pending: dict[Future[AgentResponse], _AgentCall] = {}
        for item in items:
            try:
                item.agent = self._resolve(item.call, agents)
                item.agent.validate_arguments(
                    item.call.tool.arguments, item.call.id, item.call.tool.raw_arguments
                )
            except ToolCallError as exc:
                item.result = self._tool_error_result(output, item.call, exc)
                continue
            item.block = output.add_block(
                TextContent(
                    agent_name=item.agent.name, status=BlockStatus.PROGRESS, status_message="Running…"
                )
            )
            output.add_agent(item.agent.name)
            output.add_action(f"Running {item.agent.name}")
            pending[_start_in_thread(self._call_agent, output, item)] = item
        output.push_update()
        self._wait(output, pending)

    def _resolve(self, call: ToolCall, agents: dict[str, BaseAgent]) -> BaseAgent:
        agent = agents.get(call.tool.name)
        if agent is None:
            available = ", ".join(sorted(agents)) or "none"
            reason = "is not available in this turn" if call.tool.name in self.agents else "does not exist"
            raise UnknownAgentError(
                f"Agent '{call.tool.name}' {reason}. Available agents: {available}.", call.tool.name, call.id
            )
        return agent

    def _tool_error_result(self, output: OutputMessage, call: ToolCall, exc: ToolCallError) -> str:
        logger.info("tool call %s (%s) rejected: %s", call.id, call.tool.name, exc.message)
        output.add_action(f"The model called {call.tool.name} wrongly; asked it to correct itself")
        extra: dict[str, Any] = {}
        if isinstance(exc, InvalidToolArgumentsError):
            if exc.errors:
                extra["errors"] = exc.errors
            if exc.raw_arguments is not None:
                extra["received"] = exc.raw_arguments
        return _error_result(exc.message, **extra)

    def _call_agent(self, output: OutputMessage, item: _AgentCall) -> AgentResponse:
        assert item.agent is not None and item.block is not None

        def report(status_message: str) -> None:
            if item.abandoned.is_set():
                return
            output.update_block(item.block, status_message=status_message)
            output.push_update()

        def count_usage(response: LLMResponse) -> None:
            # The agent's own model calls (summarize, compare_models) are part of what the turn used.
            if response.sent:
                output.add_usage(None, response.send_tokens, response.recv_tokens, response.cost)

        return item.agent.call(item.call.tool.arguments, reporter=report, usage_sink=count_usage)

    def _wait(self, output: OutputMessage, pending: dict[Future[AgentResponse], _AgentCall]) -> None:
        deadline = monotonic() + self.limits.agent_timeout_s
        waiting = set(pending)
        while waiting:
            remaining = deadline - monotonic()
            if remaining <= 0 or self._stop.is_set():
                break
            done, _ = wait([*waiting, self._stop_future], timeout=remaining, return_when=FIRST_COMPLETED)
            for future in done:
                if future is self._stop_future:
                    continue
                waiting.discard(future)
                self._record(output, pending[future], future)
                output.push_update()
        for future in waiting:
            item = pending[future]
            item.abandoned.set()
            assert item.agent is not None and item.block is not None
            if self._stop.is_set():
                output.update_block(item.block, status=BlockStatus.ERROR, status_message="Stopped")
            else:
                error = AgentTimeoutError(item.agent.name, self.limits.agent_timeout_s)
                logger.warning("agent %s timed out after %ss", item.agent.name, self.limits.agent_timeout_s)
                output.update_block(item.block, status=BlockStatus.ERROR, status_message=error.message)
                output.add_action(f"{item.agent.name} timed out")
                item.result = _error_result(error.message + " Try a simpler request or another approach.")
        if waiting:
            output.push_update()
        self._check_stop()

    def _record(self, output: OutputMessage, item: _AgentCall, future: Future[AgentResponse]) -> None:
        assert item.agent is not None and item.block is not None
        name = item.agent.name
        try:
            response = future.result()
        except InvalidToolArgumentsError as exc:  # validated already, but run() may validate deeper
            item.result = self._tool_error_result(output, item.call, exc)
            output.update_block(item.block, status=BlockStatus.ERROR, status_message=exc.message)
            return
        except Exception as exc:
            logger.exception("agent %s raised", name)
            item.result = _error_result(
                f"The {name} agent failed with an internal error ({type(exc).__name__}). "
                "Do not retry it with the same arguments; tell the user or try another approach."
            )
            output.update_block(
                item.block, status=BlockStatus.ERROR, status_message=f"{name} failed with an internal error"
            )
            output.add_action(f"{name} failed")
            return
        item.result = response.to_tool_result()
        ok = response.status == AgentStatus.SUCCESS
        output.update_block(
            item.block,
            status=BlockStatus.SUCCESS if ok else BlockStatus.ERROR,
            # A failed step's one line says why (e.g. "Refused to read ...: private address"), so the
            # user sees the cause without expanding it; agent messages are written for people.
            status_message="Done" if ok else (response.message or "Failed"),
            text=response.message,
            data=response.data,
        )

    # ----- endings -----------------------------------------------------------------------------

    def _save_context(self, context: list[dict[str, Any]]) -> None:
        if self._taken_over:
            return  # stop_and_save() saved the context; the DB may be closed by now
        try:
            self.session.save_context_messages(context)
        except StorageFullError:
            # The DB layer logs a full disk once a minute; the turn goes on, its answer may still fit.
            pass
        except Exception:
            logger.exception("saving context failed for session %s", self.session.session_id)

    def _finish_success(self, output: OutputMessage) -> None:
        block = output.assistant_block()
        if block is None:
            # The model answered with nothing; an empty final block is clearer than a missing one.
            block = output.add_block(TextContent(agent_name=ASSISTANT, text=""))
        output.update_block(block, status=BlockStatus.SUCCESS)
        output.set_status(MsgStatus.SUCCESS)

    def _finish_llm_error(self, output: OutputMessage, response: LLMResponse) -> None:
        error_type = response.error_type.value if response.error_type else "unknown"
        logger.warning("LLM error (%s) ended turn in session %s", error_type, self.session.session_id)
        output.add_action(f"The model call failed ({error_type})")
        data = {"error_type": error_type, **(response.error_detail or {})}
        self._finish_error(output, response.content or "The model call failed.", data)

    def _finish_error(self, output: OutputMessage, message: str, data: dict[str, Any] | None = None) -> None:
        block = output.assistant_block()
        if block is None:
            block = output.add_block(TextContent(agent_name=ASSISTANT))
        text = f"{block.text}\n\n{message}" if block.text else message
        output.update_block(block, status=BlockStatus.ERROR, status_message=message, text=text, data=data)
        output.set_status(MsgStatus.ERROR)

    def _finish_max_steps(self, output: OutputMessage) -> None:
        steps = self.limits.max_steps
        output.add_action(f"Stopped after {steps} steps")
        self._finish_error(
            output,
            f"I stopped after {steps} steps without reaching a final answer (the per-turn step limit). "
            "Ask a narrower question, or continue with a follow-up message.",
            {"error_type": "max_steps"},
        )

    def _finish_stopped(self, output: OutputMessage) -> None:
        reason = self._stop_reason
        output.add_action(STOPPED_BY[reason])
        for step in list(output.content):
            if step.status == BlockStatus.PROGRESS and step.agent_name != ASSISTANT:
                output.update_block(step, status=BlockStatus.ERROR, status_message="Stopped")
        block = output.assistant_block()
        if block is None:
            block = output.add_block(TextContent(agent_name=ASSISTANT))
        output.update_block(
            block,
            status=BlockStatus.STOPPED,
            status_message=STOPPED_BY[reason],
            text=block.text or NOTHING_WRITTEN_TEXT,
        )
        output.set_status(MsgStatus.STOPPED, stopped=True)
        output.stop_reason = reason


def _start_in_thread(fn: Callable[..., AgentResponse], *args: Any) -> Future[AgentResponse]:
    """Run ``fn`` on a daemon thread: an agent we gave up on (timeout/stop) can neither block the
    turn nor keep the process alive at shutdown, unlike a ThreadPoolExecutor's workers."""
    future: Future[AgentResponse] = Future()
    future.set_running_or_notify_cancel()

    def target() -> None:
        try:
            future.set_result(fn(*args))
        except BaseException as exc:  # handed to the waiting turn, which logs it
            future.set_exception(exc)

    threading.Thread(target=target, name="agent", daemon=True).start()
    return future


def _drop_oldest_turns(context: list[dict[str, Any]]) -> int:
    """Drop at least half of the turns before the current one, in place; how many messages went.

    Cuts only where a user message starts a turn, so no tool result loses its tool call. Halving
    keeps the number of refused calls logarithmic in the history's length.
    """
    users = [i for i, message in enumerate(context) if message.get("role") == "user"]
    if not users or users[-1] == 0:
        return 0
    current = users[-1]
    cut = next(i for i in users if i >= (current + 1) // 2)
    del context[:cut]
    return cut


def _tool_message(item: _AgentCall, content: str) -> dict[str, Any]:
    return {"role": "tool", "tool_call_id": item.call.id, "content": content}


def _stopped_result() -> str:
    return _error_result("Stopped by the user before this finished.")


def _interrupted_result() -> str:
    return _error_result("The server stopped before this finished; its result was lost.")
