"""The LiteLLM adapter: Director's whole model layer, for any provider LiteLLM supports.

Every LiteLLM quirk lives in this package: the lazy import, the kwargs it wants, retries (ours,
not LiteLLM's or the OpenAI SDK's), error mapping. ``litellm`` itself is imported on first use
(or by ``warmup()``), never at module import: it takes over 2 s and ~185 MB.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Annotated, Any, ClassVar

from dotenv import dotenv_values
from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from director.constants import EnvPrefix, LLMType, env_file
from director.errors import ConfigError
from director.llm.base import (
    BaseLLM,
    BaseLLMConfig,
    LLMErrorType,
    LLMResponse,
    LLMResponseStatus,
    StreamEvent,
    TextDelta,
    ToolCallDelta,
)
from director.llm.conversion import (
    RawCompletion,
    StreamAccumulator,
    raw_from_response,
    to_llm_response,
    to_openai_messages,
    to_openai_tools,
)
from director.llm.litellm_errors import (
    FALLBACK_ON,
    RETRYABLE,
    Failure,
    classify,
    describe_exception,
    user_message,
)
from director.llm.redact import protect, register_secret
from director.text import clean_strings

logger = logging.getLogger(__name__)
protect(logger)

# --- lazy import ---------------------------------------------------------------------------------

# Indirection so tests can observe backoff waits without patching the global time.sleep.
_sleep = time.sleep

_litellm: ModuleType | None = None
_import_lock = threading.Lock()


def ensure_litellm() -> ModuleType:
    """Import LiteLLM once, thread-safely, configured to stay offline and quiet."""
    global _litellm
    if _litellm is not None:
        return _litellm
    with _import_lock:
        if _litellm is None:
            # Read by LiteLLM at import time: use the bundled price list instead of fetching one.
            os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
            os.environ.setdefault("LITELLM_OFFLINE_MODE", "true")
            started = time.perf_counter()
            import litellm

            litellm.suppress_debug_info = True
            # Director registers no LiteLLM callbacks and computes cost itself; LiteLLM's per-stream
            # success logging runs asyncio.run() in a worker thread for every call and was over half
            # the server's CPU under 100 concurrent turns (bench/sessions.py).
            litellm.disable_streaming_logging = True
            # LiteLLM's own loggers may repeat request details; keep keys out of them too.
            for name in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy"):
                protect(logging.getLogger(name))
            _litellm = litellm
            logger.info("litellm imported in %.2f s", time.perf_counter() - started)
    return _litellm


def _close_stream(stream: Any) -> None:
    """Close a LiteLLM stream wrapper and the HTTP stream under it (idempotent, never raises)."""
    for obj in (getattr(stream, "completion_stream", None), stream):
        close = getattr(obj, "close", None)
        if callable(close):
            try:
                close()
            except Exception:  # best effort: the stream may already be closed or broken
                logger.debug("closing a LiteLLM stream failed", exc_info=True)


def _release_responses(exc: BaseException) -> None:
    """Close HTTP responses a LiteLLM exception (or its causes) still holds.

    Left to the garbage collector, an unclosed streamed response is finalised at an arbitrary
    point, possibly while the same thread holds httpcore's pool lock, which deadlocks it.
    """
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        close = getattr(getattr(cur, "response", None), "close", None)
        if callable(close):
            try:
                close()
            except Exception:
                logger.debug("closing an errored response failed", exc_info=True)
        cur = cur.__cause__ or cur.__context__


# --- configuration -------------------------------------------------------------------------------

# The env var each provider's key lives in, by LiteLLM model prefix (used to read it from .env when
# the real environment lacks it, and to name it in error messages).
PROVIDER_KEY_VARS: dict[str, list[str]] = {
    "openai": ["OPENAI_API_KEY"],
    "anthropic": ["ANTHROPIC_API_KEY"],
    "gemini": ["GEMINI_API_KEY", "GOOGLEAI_API_KEY"],
    "groq": ["GROQ_API_KEY"],
    "mistral": ["MISTRAL_API_KEY"],
    "deepseek": ["DEEPSEEK_API_KEY"],
    "openrouter": ["OPENROUTER_API_KEY"],
    "xai": ["XAI_API_KEY"],
    "cohere": ["COHERE_API_KEY"],
    "together_ai": ["TOGETHERAI_API_KEY"],
    "azure": ["AZURE_API_KEY"],
    "litellm_proxy": ["LITELLM_PROXY_API_KEY"],
}

# Parameters Director sets itself (or that carry secrets): LITELLM_EXTRA_PARAMS may not override them.
RESERVED_PARAMS = frozenset(
    {
        "model",
        "messages",
        "tools",
        "tool_choice",
        "stream",
        "stream_options",
        "stop",
        "response_format",
        "api_key",
        "api_base",
        "base_url",
        "timeout",
        "num_retries",
        "max_retries",
        "drop_params",
        "extra_headers",
        "fallbacks",
    }
)

# What each setting accepts, for error messages that name the variable.
_ACCEPTED = {
    "chat_model": "a LiteLLM model string such as anthropic/claude-sonnet-4-5",
    "temperature": "a number between 0 and 2",
    "top_p": "a number between 0 and 1",
    "max_tokens": "a whole number of at least 1",
    "timeout": "a number of seconds between 0 (exclusive) and 3600",
    "num_retries": "a whole number between 0 and 10",
    "retry_backoff": "a number of seconds between 0 and 60",
    "retry_max_wait": "a number of seconds between 0 and 600",
    "fallback_models": "comma-separated LiteLLM model strings",
    "drop_params": "true or false",
    "extra_headers": 'a JSON object of strings, e.g. {"X-Team": "ai"}',
    "extra_params": (
        'a JSON object of extra completion parameters, e.g. {"num_ctx": 16384} for Ollama or {"seed": 7}, '
        "without the ones Director sets itself (" + ", ".join(sorted(RESERVED_PARAMS)) + ")"
    ),
    "reasoning_effort": "low, medium or high",
    "api_base": "a URL such as http://localhost:4000",
}


def provider_of(model: str) -> str:
    """LiteLLM's provider for a model string (the prefix; a guess for bare names)."""
    if "/" in model:
        return model.split("/", 1)[0]
    name = model.lower()
    if name.startswith("claude"):
        return "anthropic"
    if name.startswith("gemini"):
        return "gemini"
    return "openai"


class LiteLLMConfig(BaseLLMConfig):
    """Settings for the LiteLLM adapter (env prefix ``LITELLM_``; also read from the repo's ``.env``)."""

    model_config = SettingsConfigDict(env_prefix=EnvPrefix.LITELLM.value)

    # Presets put their provider in front of a bare model name ("gpt-4o" -> "openai/gpt-4o").
    model_prefix: ClassVar[str | None] = None

    llm_type: LLMType = LLMType.LITELLM
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    max_tokens: int | None = Field(default=None, ge=1)
    timeout: float = Field(default=120.0, gt=0, le=3600)
    num_retries: int = Field(default=2, ge=0, le=10)
    # NoDecode: parsed by our validators below (comma list / JSON) so errors name the variable.
    fallback_models: Annotated[list[str], NoDecode] = Field(default_factory=list)
    extra_headers: Annotated[dict[str, str], NoDecode] = Field(default_factory=dict)
    # Provider-specific knobs LiteLLM passes on (Ollama's num_ctx, seed, top_k...), for the primary
    # model's provider only: another provider behind a fallback may reject them.
    extra_params: Annotated[dict[str, Any], NoDecode] = Field(default_factory=dict)
    # Our backoff: base * 2**attempt seconds (or the provider's Retry-After), never above retry_max_wait.
    retry_backoff: float = Field(default=0.5, ge=0, le=60)
    retry_max_wait: float = Field(default=20.0, ge=0, le=600)

    def __init__(self, **values: Any):
        values.setdefault("_env_file", env_file())
        dotenv_path = values["_env_file"]
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise self._config_error(exc) from None
        if self.api_key is None:
            self.api_key = self._provider_key(dotenv_path)
        if self.api_key is not None:
            register_secret(self.api_key.get_secret_value())

    @classmethod
    def env_prefix(cls) -> str:
        return cls.model_config.get("env_prefix", "")

    @classmethod
    def _config_error(cls, exc: ValidationError) -> ConfigError:
        err = exc.errors()[0]
        field = str(err["loc"][0]) if err.get("loc") else "chat_model"
        variable = cls.env_prefix() + field.upper()
        accepted = _ACCEPTED.get(field, "a valid value")
        # Never echo the value of a key; other values help the user spot a typo.
        shown = "" if "key" in field else f" (got {err.get('input')!r})"
        return ConfigError(variable, accepted, f"{variable} must be {accepted}{shown}.")

    @field_validator("chat_model", "api_base", "reasoning_effort", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip()
            return value or None
        return value

    @field_validator("api_key", mode="before")
    @classmethod
    def _blank_key_is_unset(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return None  # an empty key is never forwarded: LiteLLM then uses the provider's env var
        return value.strip() if isinstance(value, str) else value

    @field_validator("reasoning_effort", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @field_validator("chat_model", mode="after")
    @classmethod
    def _prefix_model(cls, value: str | None) -> str | None:
        if value and cls.model_prefix and "/" not in value:
            return f"{cls.model_prefix}/{value}"
        return value

    @field_validator("fallback_models", mode="before")
    @classmethod
    def _split_models(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [m.strip() for m in value.split(",") if m.strip()]
        return value

    @field_validator("extra_params", mode="before")
    @classmethod
    def _parse_params(cls, value: Any) -> Any:
        value = cls._parse_headers(value)
        if isinstance(value, dict) and RESERVED_PARAMS & set(value):
            raise ValueError("sets a parameter Director sets itself")
        return value

    @field_validator("extra_headers", mode="before")
    @classmethod
    def _parse_headers(cls, value: Any) -> Any:
        if isinstance(value, str):
            if not value.strip():
                return {}
            try:
                value = json.loads(value)
            except ValueError as exc:
                raise ValueError("not valid JSON") from exc
            if not isinstance(value, dict):
                raise ValueError("not a JSON object")
        return value

    def _provider_key(self, dotenv_path: Any) -> SecretStr | None:
        """The provider's own key from the environment or, failing that, from ``.env``.

        LiteLLM only looks at ``os.environ``; a key a user put in ``.env`` would otherwise be ignored.
        """
        if not self.chat_model:
            return None
        names = PROVIDER_KEY_VARS.get(provider_of(self.chat_model), [])
        for name in names:
            if os.environ.get(name, "").strip():
                return SecretStr(os.environ[name].strip())
        if dotenv_path and Path(dotenv_path).is_file():
            file_values = {k.upper(): v for k, v in dotenv_values(dotenv_path).items() if v}
            for name in names:
                if file_values.get(name, "").strip():
                    return SecretStr(file_values[name].strip())
        return None

    def key_variables(self, model: str | None = None) -> list[str]:
        """The env vars a user should check when ``model``'s key is rejected."""
        own = [f"{self.env_prefix()}API_KEY"]
        provider_vars = PROVIDER_KEY_VARS.get(provider_of(model or self.chat_model or ""), [])
        return list(dict.fromkeys(own + provider_vars))


class OpenAIConfig(LiteLLMConfig):
    """``DEFAULT_LLM=openai``: OPENAI_CHAT_MODEL (default openai/gpt-4o), OPENAI_API_KEY, ..."""

    model_config = SettingsConfigDict(env_prefix=EnvPrefix.OPENAI.value)
    model_prefix: ClassVar[str | None] = "openai"
    llm_type: LLMType = LLMType.OPENAI
    chat_model: str | None = "openai/gpt-4o"


class AnthropicConfig(LiteLLMConfig):
    """``DEFAULT_LLM=anthropic``: ANTHROPIC_CHAT_MODEL (default anthropic/claude-sonnet-4-5), ANTHROPIC_API_KEY, ..."""

    model_config = SettingsConfigDict(env_prefix=EnvPrefix.ANTHROPIC.value)
    model_prefix: ClassVar[str | None] = "anthropic"
    llm_type: LLMType = LLMType.ANTHROPIC
    chat_model: str | None = "anthropic/claude-sonnet-4-5"


class GoogleAIConfig(LiteLLMConfig):
    """``DEFAULT_LLM=googleai``: GOOGLEAI_CHAT_MODEL (default gemini/gemini-2.5-flash), GOOGLEAI_API_KEY
    or GEMINI_API_KEY, ..."""

    model_config = SettingsConfigDict(env_prefix=EnvPrefix.GOOGLEAI.value, populate_by_name=True)
    model_prefix: ClassVar[str | None] = "gemini"
    llm_type: LLMType = LLMType.GOOGLEAI
    chat_model: str | None = "gemini/gemini-2.5-flash"
    api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("api_key", "GOOGLEAI_API_KEY", "GEMINI_API_KEY")
    )


PRESET_CONFIGS: dict[LLMType, type[LiteLLMConfig]] = {
    LLMType.LITELLM: LiteLLMConfig,
    LLMType.OPENAI: OpenAIConfig,
    LLMType.ANTHROPIC: AnthropicConfig,
    LLMType.GOOGLEAI: GoogleAIConfig,
}


# --- the adapter ---------------------------------------------------------------------------------


class LiteLLM(BaseLLM):
    """``BaseLLM`` over ``litellm.completion``: conversion, one retry layer, fallbacks, error mapping."""

    config: LiteLLMConfig

    def __init__(self, config: LiteLLMConfig | None = None):
        config = config or LiteLLMConfig()
        if not config.chat_model:
            prefix = config.env_prefix()
            raise ConfigError(
                f"{prefix}CHAT_MODEL", _ACCEPTED["chat_model"], f"{prefix}CHAT_MODEL is not set."
            )
        super().__init__(config)

    @property
    def models(self) -> list[str]:
        """The primary model, then the fallbacks in order."""
        return [self.config.chat_model or "", *self.config.fallback_models]

    def warmup(self) -> None:
        litellm = ensure_litellm()
        # LiteLLM's first completion imports ~500 more modules (~1 s: OpenAI SDK resources, the HTTP
        # stack). A mocked call, which never touches the network, pays most of that here instead.
        try:
            litellm.completion(
                model=self.config.chat_model,
                messages=[{"role": "user", "content": "warmup"}],
                mock_response="ok",
            )
            import httpcore  # noqa: F401
            import openai.resources  # noqa: F401
        except Exception:  # warming up is an optimisation; the real call will report real problems
            logger.debug("LLM warmup call failed", exc_info=True)

    # -- request building --
    def _request_kwargs(self, model: str, stream: bool) -> dict[str, Any]:
        cfg = self.config
        kwargs: dict[str, Any] = {
            "model": model,
            "timeout": cfg.timeout,
            "drop_params": cfg.drop_params,
            # Ours is the only retry layer: LiteLLM's and the OpenAI SDK's would multiply attempts.
            "num_retries": 0,
            "max_retries": 0,
        }
        for name in ("temperature", "top_p", "max_tokens", "reasoning_effort"):
            value = getattr(cfg, name)
            if value is not None:
                kwargs[name] = value
        if cfg.extra_headers:
            kwargs["extra_headers"] = dict(cfg.extra_headers)
        # Credentials and base URL belong to the primary model's provider; a fallback on another
        # provider is routed by LiteLLM from that provider's own env vars.
        if provider_of(model) == provider_of(cfg.chat_model or ""):
            if cfg.api_key is not None:
                kwargs["api_key"] = cfg.api_key.get_secret_value()
            if cfg.api_base:
                kwargs["api_base"] = cfg.api_base
            kwargs.update(cfg.extra_params)
        if stream:
            kwargs["stream"] = True
            kwargs["stream_options"] = {"include_usage": True}
        return kwargs

    def _cost(self, litellm: ModuleType, model: str, raw: RawCompletion) -> float | None:
        if not raw.total_tokens:
            return None
        try:
            prompt, completion = litellm.cost_per_token(
                model=model, prompt_tokens=raw.prompt_tokens, completion_tokens=raw.completion_tokens
            )
        except Exception:  # unknown/custom models have no price: cost is "unknown", not an error
            return None
        return float(prompt + completion)

    # -- public API --
    def chat_completions(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None = None,
        stop: list[str] | None = None,
        response_format: dict[str, Any] | None = None,
    ) -> LLMResponse:
        final: StreamEvent | None = None
        for final in self._run(messages, tools, stop, response_format, stream=False):  # noqa: B007
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
        return self._run(messages, tools, stop, response_format, stream=True)

    # -- the one call loop: retries, then fallbacks --
    def _run(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None,
        stop: list[str] | None,
        response_format: dict[str, Any] | None,
        stream: bool,
    ) -> Iterator[StreamEvent]:
        started = time.perf_counter()

        def elapsed_ms() -> float:
            return (time.perf_counter() - started) * 1000

        try:
            litellm = ensure_litellm()
            # Text no encoder accepts (a lone surrogate a model or an older version let into the
            # stored context) would fail every call of the session forever: replace it here.
            body: dict[str, Any] = {"messages": clean_strings(to_openai_messages(messages))}
            openai_tools = to_openai_tools(tools)
            if openai_tools:
                body["tools"] = openai_tools
            if stop:
                body["stop"] = stop
            if response_format:
                body["response_format"] = response_format
        except Exception:  # bad input shape: report it like any failure instead of raising
            logger.exception("could not build the request for %s", self.config.chat_model)
            yield self._error(
                Failure(LLMErrorType.BAD_REQUEST, None, None), self.config.chat_model or "", 1, elapsed_ms()
            )
            return

        models = self.models
        wait: float | None = None  # set by a failed attempt: back off before the next one
        for position, model in enumerate(models):
            attempt = 0
            while True:
                if wait is not None:
                    # The failed attempt's exception is gone now; collect the young reference cycles
                    # it left (tracebacks holding unclosed HTTP streams) here, where we hold no lock.
                    # Left to chance, the collector may finalise such a stream while this thread
                    # holds httpcore's non-reentrant pool lock, deadlocking it.
                    gc.collect(1)
                    if wait > 0:
                        _sleep(wait)
                    wait = None
                emitted = False
                try:
                    if stream:
                        acc = StreamAccumulator()
                        chunks = litellm.completion(**body, **self._request_kwargs(model, stream=True))
                        try:
                            for chunk in chunks:
                                text, calls = acc.add(chunk)
                                if text:
                                    emitted = True
                                    yield TextDelta(text=text)
                                for index, call_id, name, fragment in calls:
                                    emitted = True
                                    yield ToolCallDelta(
                                        index=index, id=call_id, name=name, arguments=fragment
                                    )
                                if acc.complete:
                                    # Finish reason and usage are in: LiteLLM's remaining work on
                                    # this stream (a second full rebuild, copies, logging) is
                                    # nothing we read. Its success logging already ran once.
                                    break
                        finally:
                            # Also when we or the caller stop early: release the HTTP response now.
                            _close_stream(chunks)
                        raw = acc.result()
                    else:
                        raw = raw_from_response(
                            litellm.completion(**body, **self._request_kwargs(model, stream=False))
                        )
                except Exception as exc:
                    _release_responses(exc)
                    failure = classify(exc)
                    last_model = position == len(models) - 1
                    # Once deltas reached the caller, a retry would duplicate them: report instead.
                    if not emitted and failure.error_type in RETRYABLE and attempt < self.config.num_retries:
                        wait = self._backoff(attempt, failure)
                        logger.warning(
                            "%s failed (%s), retry %d/%d in %.2f s: %s",
                            model,
                            failure.error_type.value,
                            attempt + 1,
                            self.config.num_retries,
                            wait,
                            describe_exception(exc),
                        )
                        attempt += 1
                        continue
                    logger.exception("LLM call to %s failed (%s)", model, failure.error_type.value)
                    if not emitted and not last_model and failure.error_type in FALLBACK_ON:
                        logger.warning("falling back from %s to %s", model, models[position + 1])
                        wait = 0.0
                        break
                    error = self._error(failure, model, attempt + 1, elapsed_ms(), mid_stream=emitted)
                else:
                    yield to_llm_response(raw, model, self._cost(litellm, model, raw), elapsed_ms())
                    return
                gc.collect(1)  # outside the except block, for the reason given above
                yield error
                return

    def _backoff(self, attempt: int, failure: Failure) -> float:
        cfg = self.config
        if failure.retry_after is not None:
            return min(failure.retry_after, cfg.retry_max_wait)
        # Jitter spreads out many clients that were throttled at the same moment.
        return min(cfg.retry_backoff * (2**attempt), cfg.retry_max_wait) * random.uniform(0.5, 1.0)

    def _error(
        self, failure: Failure, model: str, attempts: int, latency_ms: float, mid_stream: bool = False
    ) -> LLMResponse:
        content = user_message(
            failure,
            model,
            prefix=self.config.env_prefix(),
            key_variables=self.config.key_variables(model),
            api_base=self.config.api_base,
            timeout=self.config.timeout,
            attempts=attempts,
            mid_stream=mid_stream,
        )
        return LLMResponse(
            content=content,
            status=LLMResponseStatus.ERROR,
            error_type=failure.error_type,
            model=model,
            latency_ms=latency_ms,
        )
