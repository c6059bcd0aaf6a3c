"""Director's message/tool shapes <-> the OpenAI chat shape LiteLLM speaks, both directions.

Pure functions over plain data: no LiteLLM import, so they are cheap and unit-testable.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from director.llm.base import LLMResponse, LLMResponseStatus, ToolCall, ToolFunction

# --- Director -> OpenAI (requests) ---------------------------------------------------------------


def encode_arguments(arguments: Any) -> str:
    """Tool-call arguments as the JSON-object string providers expect on replay.

    Empty/None become "{}" (some providers, e.g. Ollama, crash on ""); an already-encoded string that
    is a JSON object is kept; anything else is not replayable as-is and is replaced by "{}".
    """
    if arguments is None or arguments == "":
        return "{}"
    if isinstance(arguments, str):
        try:
            return arguments if isinstance(json.loads(arguments), dict) else "{}"
        except ValueError:
            return "{}"
    return json.dumps(arguments)


def _tool_call_to_openai(call: Any) -> dict[str, Any]:
    if isinstance(call, BaseModel):
        call = call.model_dump()
    # Director's shape carries "tool"; tolerate OpenAI's "function" too (e.g. hand-written context).
    fn = call.get("tool") or call.get("function") or {}
    return {
        "id": call.get("id") or f"call_{uuid.uuid4().hex[:24]}",
        "type": "function",
        "function": {"name": fn.get("name", ""), "arguments": encode_arguments(fn.get("arguments"))},
    }


def _text(content: Any) -> str:
    if content is None:
        return ""
    return content if isinstance(content, str) else json.dumps(content)


# OpenAI content parts LiteLLM translates for every provider (an image becomes Anthropic's "image"
# block, Gemini's inline_data, Bedrock's image block...): a user message made of them is sent as parts.
_CONTENT_PARTS = frozenset({"text", "image_url"})


def _is_parts(content: Any) -> bool:
    return (
        isinstance(content, list)
        and bool(content)
        and all(isinstance(p, dict) and p.get("type") in _CONTENT_PARTS for p in content)
    )


def to_openai_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for msg in messages:
        role = msg.get("role")
        if role == "tool":
            out.append(
                {
                    "role": "tool",
                    "tool_call_id": msg.get("tool_call_id", ""),
                    "content": _text(msg.get("content")),
                }
            )
        elif role == "assistant" and msg.get("tool_calls"):
            out.append(
                {
                    "role": "assistant",
                    # OpenAI wants null (not "") beside tool calls when the model said nothing.
                    "content": msg.get("content") or None,
                    "tool_calls": [_tool_call_to_openai(c) for c in msg["tool_calls"]],
                }
            )
        elif role == "user" and _is_parts(msg.get("content")):
            out.append({"role": role, "content": [dict(p) for p in msg["content"]]})
        else:
            out.append({"role": role, "content": _text(msg.get("content"))})
    return out


def to_openai_tools(tools: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    if not tools:
        return None
    out = []
    for tool in tools:
        if tool.get("type") == "function" and "function" in tool:
            out.append(tool)  # already in OpenAI's shape
            continue
        out.append(
            {
                "type": "function",
                "function": {
                    "name": tool["name"],
                    "description": tool.get("description", ""),
                    "parameters": tool.get("parameters") or {"type": "object", "properties": {}},
                },
            }
        )
    return out


# --- OpenAI -> Director (responses) --------------------------------------------------------------


def parse_arguments(raw: Any) -> tuple[dict[str, Any], str | None]:
    """``(arguments, raw_arguments)``: raw is kept only when it is not a JSON object."""
    if raw is None:
        return {}, None
    if isinstance(raw, dict):
        return raw, None
    if not isinstance(raw, str):
        return {}, json.dumps(raw)
    if not raw.strip():
        return {}, None
    try:
        value = json.loads(raw)
    except ValueError:
        return {}, raw
    return (value, None) if isinstance(value, dict) else ({}, raw)


@dataclass
class RawToolCall:
    id: str | None = None
    name: str = ""
    arguments: str = ""


@dataclass
class RawCompletion:
    """What a completion boils down to, whether it came whole or as stream chunks."""

    content: str = ""
    tool_calls: list[RawToolCall] = field(default_factory=list)
    finish_reason: str | None = None
    reasoning: str = (
        ""  # the model's reasoning text, when the provider returns it (LiteLLM: reasoning_content)
    )
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    # Prompt caching: input tokens read from the provider's cache (part of prompt_tokens) and,
    # for Anthropic, written to it; LiteLLM prices both at their own rates.
    cached_tokens: int = 0
    cache_creation_tokens: int = 0

    response_cost: float | None = None  # what the provider said the answer cost (a LiteLLM proxy's header)


def _get(obj: Any, name: str, default: Any = None) -> Any:
    if obj is None:
        return default
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def read_usage(raw: RawCompletion, usage: Any) -> None:
    if usage is None:
        return
    raw.prompt_tokens = int(_get(usage, "prompt_tokens") or 0)
    raw.completion_tokens = int(_get(usage, "completion_tokens") or 0)
    raw.total_tokens = int(_get(usage, "total_tokens") or 0) or raw.prompt_tokens + raw.completion_tokens
    # OpenAI-shaped usage (what LiteLLM normalises every provider to) first, Anthropic's own fields second.
    details = _get(usage, "prompt_tokens_details")
    raw.cached_tokens = int(_get(details, "cached_tokens") or _get(usage, "cache_read_input_tokens") or 0)
    raw.cache_creation_tokens = int(
        _get(details, "cache_creation_tokens") or _get(usage, "cache_creation_input_tokens") or 0
    )


def raw_from_response(response: Any) -> RawCompletion:
    """Read a LiteLLM ``ModelResponse`` (or an OpenAI-shaped dict) into a ``RawCompletion``."""
    raw = RawCompletion()
    choices = _get(response, "choices") or []
    if choices:
        choice = choices[0]
        message = _get(choice, "message")
        raw.content = _get(message, "content") or ""
        raw.reasoning = _get(message, "reasoning_content") or ""
        raw.finish_reason = _get(choice, "finish_reason")
        for call in _get(message, "tool_calls") or []:
            fn = _get(call, "function")
            args = _get(fn, "arguments")
            raw.tool_calls.append(
                RawToolCall(
                    id=_get(call, "id"),
                    name=_get(fn, "name") or "",
                    arguments=args if isinstance(args, str) or args is None else json.dumps(args),
                )
            )
    read_usage(raw, _get(response, "usage"))
    return raw


class StreamAccumulator:
    """Folds OpenAI-shaped stream chunks into a ``RawCompletion``, returning each chunk's deltas."""

    def __init__(self) -> None:
        self.raw = RawCompletion()
        self._calls: dict[int, RawToolCall] = {}
        # True once a chunk carrying usage arrived with or after the finish reason: nothing the
        # caller needs can follow (see ``complete``).
        self._usage_after_finish = False

    @property
    def complete(self) -> bool:
        """Whether the stream has delivered everything: finish reason, then usage.

        With ``stream_options.include_usage`` the usage chunk is the last one that carries data, so the
        adapter stops reading there: whatever LiteLLM's wrapper would still do (its end-of-stream
        success logging and copies) is work Director never reads. For OpenAI-format streams the adapter
        reads that last chunk itself, without LiteLLM's end-of-stream rebuild (stream_tail.py).
        """
        return self._usage_after_finish

    @property
    def finished(self) -> bool:
        """Whether the finish reason has arrived (the usage may still be to come)."""
        return self.raw.finish_reason is not None

    def add(self, chunk: Any) -> tuple[str, list[tuple[int, str | None, str | None, str]]]:
        """Return ``(text, [(index, id, name, arguments_fragment), ...])`` carried by ``chunk``."""
        usage = _get(chunk, "usage")
        read_usage(self.raw, usage)
        text, calls = "", []
        for choice in _get(chunk, "choices") or []:
            delta = _get(choice, "delta")
            piece = _get(delta, "content") or ""
            if piece:
                text += piece
            thought = _get(delta, "reasoning_content")
            if isinstance(thought, str):
                self.raw.reasoning += thought
            for tc in _get(delta, "tool_calls") or []:
                index = _get(tc, "index")
                index = len(self._calls) if index is None else int(index)
                fn = _get(tc, "function")
                call = self._calls.setdefault(index, RawToolCall())
                call_id, name, frag = _get(tc, "id"), _get(fn, "name"), _get(fn, "arguments") or ""
                if not isinstance(frag, str):
                    frag = json.dumps(frag)
                if call_id:
                    call.id = call_id
                if name:
                    call.name = name
                call.arguments += frag
                calls.append((index, call_id, name, frag))
            if _get(choice, "finish_reason"):
                self.raw.finish_reason = _get(choice, "finish_reason")
        self.raw.content += text
        if usage is not None and self.raw.finish_reason is not None:
            self._usage_after_finish = True
        return text, calls

    def result(self) -> RawCompletion:
        self.raw.tool_calls = [self._calls[i] for i in sorted(self._calls)]
        # A streamed answer's total is the sum of its parts, as LiteLLM's end of stream reports it,
        # whichever way the usage was read (stream_tail.py) and whatever total the server stated.
        self.raw.total_tokens = self.raw.prompt_tokens + self.raw.completion_tokens
        return self.raw


def to_llm_response(raw: RawCompletion, model: str, cost: float | None, latency_ms: float) -> LLMResponse:
    """The one converter both the streaming and the non-streaming paths end in."""
    calls = []
    for tc in raw.tool_calls:
        arguments, raw_arguments = parse_arguments(tc.arguments)
        calls.append(
            ToolCall(
                id=tc.id or f"call_{uuid.uuid4().hex[:24]}",
                tool=ToolFunction(name=tc.name, arguments=arguments, raw_arguments=raw_arguments),
            )
        )
    return LLMResponse(
        content=raw.content,
        tool_calls=calls,
        send_tokens=raw.prompt_tokens,
        recv_tokens=raw.completion_tokens,
        total_tokens=raw.total_tokens,
        cached_tokens=raw.cached_tokens,
        finish_reason=raw.finish_reason,
        reasoning=raw.reasoning or None,
        status=LLMResponseStatus.SUCCESS,
        model=model,
        cost=cost,
        latency_ms=latency_ms,
    )
