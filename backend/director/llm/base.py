"""The small, provider-neutral LLM contract the rest of Director is written against.

Messages use Director's shapes (not OpenAI's):
- ``{"role": "system" | "user" | "assistant", "content": str}``
- an assistant turn that called tools:
  ``{"role": "assistant", "content": str | None, "tool_calls": [ToolCall-shaped dicts]}``
- a tool result: ``{"role": "tool", "tool_call_id": str, "content": str}``
Tools are ``{"name", "description", "parameters": <JSON schema>}``.
Adapters convert to and from their provider's wire shape internally.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr

from director.constants import LLMType
from director.settings import DirectorSettings


class LLMResponseStatus(StrEnum):
    SUCCESS = "success"
    ERROR = "error"


class LLMErrorType(StrEnum):
    """Why a call failed, in terms a user (and the retry/fallback logic) can act on."""

    AUTH = "auth"
    RATE_LIMIT = "rate_limit"
    CONTEXT_WINDOW = "context_window"
    TIMEOUT = "timeout"
    CONNECTION = "connection"
    BAD_REQUEST = "bad_request"
    NOT_FOUND = "not_found"
    SERVER = "server"
    CONTENT_POLICY = "content_policy"
    NOT_CONFIGURED = "not_configured"
    # Failed inside Director/LiteLLM before any request left (text that cannot be encoded, no API
    # key): LiteLLM reports these as a provider 500, but no provider was involved.
    LOCAL = "local"
    # Refused before sending by Director's own spending rules (core/budget.py).
    BUDGET_EXCEEDED = "budget_exceeded"
    UNPRICED_MODEL = "unpriced_model"
    UNKNOWN = "unknown"


# Refusals made before anything was sent: no model call happened, so none is counted.
NOT_SENT = frozenset({LLMErrorType.BUDGET_EXCEEDED, LLMErrorType.UNPRICED_MODEL})


class _ReadableAsDict:
    """Director code reads tool calls as dicts (``call["tool"]["name"]``); these models allow it too.

    Read-only and limited to the declared fields, so ``model_dump()`` stays the one dict form.
    """

    def __getitem__(self, key: str) -> Any:
        if key not in type(self).model_fields:  # type: ignore[attr-defined]
            raise KeyError(key)
        return getattr(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default


class ToolFunction(_ReadableAsDict, BaseModel):
    name: str
    # Always a dict: empty/None arguments become {}; unparseable ones become {} with ``raw_arguments`` set.
    arguments: dict[str, Any] = Field(default_factory=dict)
    # The model's original argument string, kept only when it was not a JSON object, so the
    # reasoning engine can show the model exactly what it sent and ask it to correct itself.
    raw_arguments: str | None = None


class ToolCall(_ReadableAsDict, BaseModel):
    """Director's tool-call shape: ``{"id", "type": "function", "tool": {"name", "arguments"}}``."""

    id: str
    type: Literal["function"] = "function"
    tool: ToolFunction

    @property
    def arguments_malformed(self) -> bool:
        return self.tool.raw_arguments is not None


class LLMResponse(BaseModel):
    content: str = ""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    send_tokens: int = 0
    recv_tokens: int = 0
    total_tokens: int = 0
    cached_tokens: int = 0  # input tokens served from the provider's prompt cache (part of send_tokens)
    finish_reason: str | None = None
    status: LLMResponseStatus = LLMResponseStatus.SUCCESS
    model: str | None = None  # the model that actually answered (may be a fallback)
    cost: float | None = None  # USD as computed by LiteLLM; None when unknown
    latency_ms: float | None = None
    error_type: LLMErrorType | None = None  # set only when status is ERROR
    # The model's reasoning ("thinking") text when the provider returned it: shown to the user,
    # never put back into the context (providers reject or re-bill it).
    reasoning: str | None = None
    # Machine-readable specifics of an error, for the answer's error block (e.g. which budget).
    error_detail: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.status == LLMResponseStatus.SUCCESS

    @property
    def sent(self) -> bool:
        """A model call happened (False for a refusal made before sending, e.g. a budget's)."""
        return self.error_type not in NOT_SENT


class TextDelta(BaseModel):
    """A piece of the answer's text, as the model writes it."""

    type: Literal["text"] = "text"
    text: str


class ToolCallDelta(BaseModel):
    """A piece of a tool call being streamed: ``index`` identifies the call among parallel ones."""

    type: Literal["tool_call"] = "tool_call"
    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""  # a fragment of the JSON argument string


# A stream yields deltas and always ends with exactly one LLMResponse (success or error).
StreamEvent = TextDelta | ToolCallDelta | LLMResponse


class BaseLLMConfig(DirectorSettings):
    """Settings shared by every LLM family; subclasses set ``env_prefix``."""

    llm_type: LLMType = LLMType.LITELLM
    chat_model: str | None = None
    api_key: SecretStr | None = None
    api_base: str | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    timeout: float = 120.0
    num_retries: int = 2
    fallback_models: list[str] = Field(default_factory=list)
    drop_params: bool = True
    extra_headers: dict[str, str] = Field(default_factory=dict)
    reasoning_effort: Literal["minimal", "low", "medium", "high"] | None = None


class BaseLLM(ABC):
    """A chat model Director can call. Implementations never raise for provider failures:
    they return an ``LLMResponse`` with ``status=ERROR``, an ``error_type`` and a safe ``content``."""

    def __init__(self, config: BaseLLMConfig):
        self.config = config

    @property
    def configured(self) -> bool:
        return True

    def warmup(self) -> None:
        """Load heavy dependencies ahead of the first call (called off the request path)."""
        return None  # optional hook: most LLMs have nothing to preload

    @property
    def supports_tools(self) -> bool:
        """False only when the model is known not to call tools: the turn then runs without agents."""
        return True

    @property
    def supports_vision(self) -> bool:
        """False only when the model is known not to take images: they are then refused or left out."""
        return True

    # -- the context window (compaction, issue 13) --
    @property
    def max_input_tokens(self) -> int | None:
        """How many input tokens the model takes; None when unknown (the context is then never compacted)."""
        return None

    @property
    def max_input_tokens_declared(self) -> bool:
        """The limit is the operator's (LITELLM_MAX_INPUT_TOKENS), not the provider's: a server such as
        Ollama cuts a longer prompt silently instead of refusing it, so nothing longer is sent."""
        return False

    def count_input_tokens(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> int:
        """An offline estimate of the request's input tokens for this model (llm/token_count.py)."""
        from director.llm.token_count import count_input_tokens

        return count_input_tokens(self.config.chat_model or "", messages, tools)

    def with_settings(self, model: str | None, reasoning_effort: str | None) -> BaseLLM:
        """This LLM for one chat's model and reasoning effort (see ``llm/for_session.py``).

        An LLM with one fixed model (a test double, the not-configured stand-in) ignores them.
        """
        return self

    @abstractmethod
    def chat_completions(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None = None,
        stop: list[str] | None = None,
        response_format: dict[str, Any] | None = None,
    ) -> LLMResponse: ...

    def chat_completions_stream(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None = None,
        stop: list[str] | None = None,
        response_format: dict[str, Any] | None = None,
    ) -> Iterator[StreamEvent]:
        """Yield deltas, then the final ``LLMResponse``. Default: no streaming, just the final response."""
        response = self.chat_completions(messages, tools=tools, stop=stop, response_format=response_format)
        if response.ok and response.content:
            yield TextDelta(text=response.content)
        yield response
