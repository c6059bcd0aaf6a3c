"""ScriptedLLM: a BaseLLM test double that answers from a queue and records what it was asked.

Queue items, consumed one per call:
- ``LLMResponse``: returned as is; when streaming, its ``content`` is yielded as ``TextDelta`` words
  first (tool calls as ``ToolCallDelta``), then the response itself.
- a callable ``(messages, tools) -> LLMResponse``: for answers that depend on the request.
- ``ScriptedStream(events)``: streams exactly ``events`` (an iterable, or a zero-arg callable returning
  an iterator, e.g. a generator that blocks on a threading.Event to hold a stream open).
"""

from __future__ import annotations

import copy
import itertools
import json
import re
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from director.llm.base import (
    BaseLLM,
    BaseLLMConfig,
    LLMResponse,
    StreamEvent,
    TextDelta,
    ToolCall,
    ToolCallDelta,
    ToolFunction,
)

_call_ids = itertools.count(1)

Responder = Callable[[list[dict[str, Any]], list[dict[str, Any]] | None], LLMResponse]


@dataclass
class ScriptedStream:
    events: Iterable[StreamEvent] | Callable[[], Iterator[StreamEvent]]


@dataclass
class RecordedCall:
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] | None
    stream: bool
    kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def tool_names(self) -> list[str]:
        return [tool["name"] for tool in self.tools or []]


def tool_call(
    name: str, arguments: dict[str, Any] | str | None = None, call_id: str | None = None
) -> ToolCall:
    """Build a ToolCall the way an adapter would: a string that is not a JSON object is kept as raw."""
    call_id = call_id or f"call_{name}_{next(_call_ids)}"
    if isinstance(arguments, str):
        try:
            parsed = json.loads(arguments) if arguments.strip() else {}
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            return ToolCall(id=call_id, tool=ToolFunction(name=name, arguments=parsed))
        return ToolCall(id=call_id, tool=ToolFunction(name=name, arguments={}, raw_arguments=arguments))
    return ToolCall(id=call_id, tool=ToolFunction(name=name, arguments=arguments or {}))


def tool_response(*calls: ToolCall, content: str = "") -> LLMResponse:
    return LLMResponse(content=content, tool_calls=list(calls), finish_reason="tool_calls", model="scripted")


def text_response(text: str) -> LLMResponse:
    return LLMResponse(content=text, finish_reason="stop", model="scripted", send_tokens=10, recv_tokens=5)


class ScriptedLLM(BaseLLM):
    def __init__(
        self, *responses: LLMResponse | Responder | ScriptedStream, config: BaseLLMConfig | None = None
    ):
        # model_construct: a test double must not read env vars or the repo's .env.
        super().__init__(config or BaseLLMConfig.model_construct(chat_model="scripted"))
        self._queue: deque[LLMResponse | Responder | ScriptedStream] = deque(responses)
        self._lock = threading.Lock()
        self.calls: list[RecordedCall] = []

    def queue(self, *responses: LLMResponse | Responder | ScriptedStream) -> ScriptedLLM:
        with self._lock:
            self._queue.extend(responses)
        return self

    @property
    def remaining(self) -> int:
        return len(self._queue)

    def _next(self, messages, tools, stream: bool, kwargs: dict[str, Any]):
        with self._lock:
            # Deep copies: the caller keeps mutating its message list after the call.
            self.calls.append(RecordedCall(copy.deepcopy(messages), copy.deepcopy(tools), stream, kwargs))
            if not self._queue:
                raise AssertionError(f"ScriptedLLM ran out of responses after {len(self.calls) - 1} calls")
            return self._queue.popleft()

    def chat_completions(self, messages, tools=None, stop=None, response_format=None) -> LLMResponse:
        item = self._next(messages, tools, False, {"stop": stop, "response_format": response_format})
        if isinstance(item, ScriptedStream):
            events = list(item.events() if callable(item.events) else item.events)
            return next(e for e in reversed(events) if isinstance(e, LLMResponse))
        return item(messages, tools) if callable(item) else item

    def chat_completions_stream(self, messages, tools=None, stop=None, response_format=None):
        item = self._next(messages, tools, True, {"stop": stop, "response_format": response_format})
        if isinstance(item, ScriptedStream):
            yield from item.events() if callable(item.events) else item.events
            return
        response = item(messages, tools) if callable(item) else item
        if response.ok:
            for word in re.findall(r"\S+\s*|\s+", response.content):
                yield TextDelta(text=word)
            for index, call in enumerate(response.tool_calls):
                arguments = call.tool.raw_arguments or json.dumps(call.tool.arguments)
                yield ToolCallDelta(index=index, id=call.id, name=call.tool.name, arguments=arguments)
        yield response
