"""``WrappingLLM``: a BaseLLM that adds behaviour around another one (per-turn metering, ...).

Wrappers compose: each delegates what it does not change to the LLM inside, so code that needs the
adapter's own features (``models``, ``for_model``) keeps working through any number of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from director.llm.base import BaseLLM, LLMResponse, StreamEvent


class WrappingLLM(BaseLLM):
    def __init__(self, inner: BaseLLM):
        super().__init__(inner.config)
        self.inner = inner

    @property
    def configured(self) -> bool:
        return self.inner.configured

    @property
    def models(self) -> list[str]:
        models = getattr(self.inner, "models", None)
        return list(models) if models is not None else [m for m in [self.config.chat_model] if m]

    def warmup(self) -> None:
        self.inner.warmup()

    # What the model can do is the wrapped model's: the engine asks the outermost wrapper.
    @property
    def supports_tools(self) -> bool:
        return self.inner.supports_tools

    @property
    def supports_vision(self) -> bool:
        return self.inner.supports_vision

    @property
    def max_input_tokens(self) -> int | None:
        return self.inner.max_input_tokens

    @property
    def max_input_tokens_declared(self) -> bool:
        return self.inner.max_input_tokens_declared

    def count_input_tokens(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> int:
        return self.inner.count_input_tokens(messages, tools)

    def for_model(self, model: str) -> WrappingLLM:
        """The same wrapper around ``inner.for_model(model)`` (compare_models calls other models)."""
        return self.rewrap(self.inner.for_model(model))  # type: ignore[attr-defined]

    def rewrap(self, inner: BaseLLM) -> WrappingLLM:
        raise NotImplementedError

    def chat_completions(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None = None,
        stop: list[str] | None = None,
        response_format: dict[str, Any] | None = None,
    ) -> LLMResponse:
        final: StreamEvent | None = None
        for final in self._events(False, messages, tools, stop, response_format):  # noqa: B007
            pass
        assert isinstance(final, LLMResponse)
        return final

    def chat_completions_stream(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None = None,
        stop: list[str] | None = None,
        response_format: dict[str, Any] | None = None,
    ) -> Iterator[StreamEvent]:
        return self._events(True, messages, tools, stop, response_format)

    def _events(self, stream: bool, *args: Any) -> Iterator[StreamEvent]:
        """What the wrapper yields: by default, the inner LLM's events unchanged."""
        yield from self._inner_events(stream, *args)

    def _inner_events(self, stream: bool, *args: Any) -> Iterator[StreamEvent]:
        if stream:
            yield from self.inner.chat_completions_stream(*args)
        else:
            yield self.inner.chat_completions(*args)


def unwrap(llm: BaseLLM | None) -> BaseLLM | None:
    """The adapter inside any wrappers."""
    while isinstance(llm, WrappingLLM):
        llm = llm.inner
    return llm
