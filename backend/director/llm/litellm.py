"""The LiteLLM adapter: Director's whole model layer, for any provider LiteLLM supports.

Every LiteLLM quirk lives in this package: the lazy import, the kwargs it wants, retries (ours,
not LiteLLM's or the OpenAI SDK's), error mapping. ``litellm`` itself is imported on first use
(or by ``warmup()``), never at module import: it takes over 2 s and ~185 MB.
"""

from __future__ import annotations

import gc
import logging
import os
import random
import threading
import time
from collections.abc import Iterator
from types import ModuleType
from typing import Any

from director.errors import ConfigError
from director.llm import stream_tail, streaming_logging, unread_bookkeeping
from director.llm.base import (
    BaseLLM,
    LLMErrorType,
    LLMResponse,
    LLMResponseStatus,
    StreamEvent,
    TextDelta,
    ToolCallDelta,
)
from director.llm.call_metadata import current_call_metadata
from director.llm.config import LiteLLMConfig, provider_of
from director.llm.conversion import (
    RawCompletion,
    StreamAccumulator,
    raw_from_response,
    to_llm_response,
    to_openai_messages,
    to_openai_tools,
)
from director.llm.credentials import CredentialStatus, missing_key_message
from director.llm.litellm_errors import (
    FALLBACK_ON,
    RETRYABLE,
    Failure,
    classify,
    describe_exception,
    user_message,
)
from director.llm.prompt_cache import cache_injection_points
from director.llm.proxy import CATALOG, header_cost, is_proxy_model, retry_limit
from director.llm.proxy_errors import proxy_message, refine
from director.llm.redact import protect
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
            # the server's CPU under 100 concurrent turns (bench/sessions.py). Off unless a callback
            # needs it (streaming_logging.py), checked again at every streamed call.
            streaming_logging.apply(litellm)
            unread_bookkeeping.install(litellm)  # inert until the adapter's calls ask (unread_bookkeeping.py)
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


def _deltas(acc: StreamAccumulator, chunk: Any) -> Iterator[TextDelta | ToolCallDelta]:
    text, calls = acc.add(chunk)
    if text:
        yield TextDelta(text=text)
    for index, call_id, name, fragment in calls:
        yield ToolCallDelta(index=index, id=call_id, name=name, arguments=fragment)


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


def _request_body(
    messages: list[dict[str, Any]],
    tools: list[dict[str, Any]] | None,
    stop: list[str] | None,
    response_format: dict[str, Any] | None,
) -> dict[str, Any]:
    """The part of a request that is the same for every attempt and every model."""
    # Text no encoder accepts (a lone surrogate a model or an older version let into the stored
    # context) would fail every call of the session forever: replace it here.
    body: dict[str, Any] = {"messages": clean_strings(to_openai_messages(messages))}
    openai_tools = to_openai_tools(tools)
    if openai_tools:
        body["tools"] = openai_tools
    if stop:
        body["stop"] = stop
    if response_format:
        body["response_format"] = response_format
    return body


# Model-map entries by model string: read once (the offline map does not change while we run).
_MODEL_INFO: dict[str, dict[str, Any]] = {}
# Providers whose model info LiteLLM fetches from the model's server (Ollama's /api/show, at its
# default address, not the api_base we call): never looked up, their capabilities count as unknown.
_ASKS_THE_SERVER = frozenset({"ollama", "ollama_chat"})


# --- the adapter ---------------------------------------------------------------------------------


class LiteLLM(BaseLLM):
    """``BaseLLM`` over ``litellm.completion``: conversion, one retry layer, fallbacks, error mapping."""

    config: LiteLLMConfig

    def __init__(self, config: LiteLLMConfig | None = None):
        config = config or LiteLLMConfig()
        if not config.chat_model:
            variable = config.env_name("chat_model")
            raise ConfigError(variable, config.accepted("chat_model"), f"{variable} is not set.")
        super().__init__(config)
        # A litellm_proxy/ fallback on another provider than the primary model's: its own proxy URL
        # and key (LITELLM_PROXY_API_*), resolved once. LiteLLM would otherwise send it to OpenAI.
        self._proxy_routes = {
            m: config.for_model(m)
            for m in config.fallback_models
            if is_proxy_model(m) and provider_of(m) != provider_of(config.chat_model)
        }
        self._require_proxy_base()

    def _require_proxy_base(self) -> None:
        """Refuse a LiteLLM proxy model without the proxy's URL: no key may leave for a host nobody set."""
        for model in self.models:
            if is_proxy_model(model) and not self._route(model)[1]:
                variable = self.config.env_name("api_base")
                raise ConfigError(
                    variable,
                    "the LiteLLM proxy's URL, e.g. http://localhost:4000",
                    f"{model} is a LiteLLM proxy model but no proxy URL is set: set {variable} or "
                    f"LITELLM_PROXY_API_BASE to the proxy's URL (e.g. http://localhost:4000).",
                )

    def _route(self, model: str) -> tuple[str | None, str | None]:
        """``(api_key, api_base)`` Director passes for ``model`` (``None``: LiteLLM's own env lookup)."""
        cfg = self._proxy_routes.get(model)
        if cfg is not None:
            return (cfg.api_key.get_secret_value() if cfg.api_key else None), cfg.api_base
        api_key, api_base, _ = self.config.credentials_for(model)
        return api_key, api_base

    def for_model(self, model: str) -> LiteLLM:
        """An adapter with these settings for ``model`` alone, with that provider's credentials
        (see ``LiteLLMConfig.for_model``): what compare_models runs each model with."""
        return LiteLLM(self.config.for_model(model))

    def with_settings(self, model: str | None, reasoning_effort: str | None) -> LiteLLM:
        """This adapter for one chat's settings (``LiteLLMConfig.for_chat``); itself when they change nothing."""
        config = self.config.for_chat(model, reasoning_effort)
        return self if config is self.config else LiteLLM(config)

    def model_info(self, model: str | None = None) -> dict[str, Any]:
        """LiteLLM's model-map entry for ``model`` (default: the chat model); {} when it has none."""
        model = model or self.config.chat_model or ""
        cached = _MODEL_INFO.get(model)
        if cached is None and provider_of(model) in _ASKS_THE_SERVER:
            cached = {}  # LiteLLM would ask a (maybe other) Ollama server over HTTP: unknown instead
        if cached is None:
            try:
                cached = dict(ensure_litellm().get_model_info(model))
            except Exception:  # not in the map (a local or custom model): nothing known
                cached = {}
            _MODEL_INFO[model] = cached
        return cached

    @property
    def supports_tools(self) -> bool:
        # Only an explicit "no" turns agents off: an unmapped or unsure model may well call tools.
        return self.model_info().get("supports_function_calling") is not False

    @property
    def supports_vision(self) -> bool:
        # A model in the map without the flag does not take images; an unmapped one may.
        info = self.model_info()
        return bool(info.get("supports_vision")) if info else True

    @property
    def max_input_tokens(self) -> int | None:
        # LITELLM_MAX_INPUT_TOKENS was written for the default model's provider (as LITELLM_EXTRA_PARAMS,
        # where Ollama's num_ctx goes); other models keep the map's figure.
        if self.max_input_tokens_declared:
            return self.config.max_input_tokens
        limit = self.model_info().get("max_input_tokens")
        return limit if isinstance(limit, int) and limit > 0 else None

    @property
    def max_input_tokens_declared(self) -> bool:
        config = self.config
        return (
            config.max_input_tokens is not None
            and provider_of(config.chat_model or "") == config.home_provider
        )

    def missing_credentials(self, model: str | None = None) -> list[str]:
        """The variables LiteLLM needs for ``model`` (default: the chat model) that are not set."""
        status, missing = self.config.credential_status(model or self.config.chat_model or "")
        return missing if status == CredentialStatus.MISSING else []

    @property
    def models(self) -> list[str]:
        """The primary model, then the fallbacks in order."""
        return [self.config.chat_model or "", *self.config.fallback_models]

    def warmup(self) -> None:
        litellm = ensure_litellm()
        missing = self.missing_credentials()
        if missing:
            # Said once at start-up, by name, instead of an opaque failure on every turn.
            logger.warning(
                "%s has no credentials: set %s (in .env or the environment); every turn will fail until then",
                self.config.chat_model,
                " and ".join(missing),
            )
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
        # LITELLM_API_KEY / API_BASE / EXTRA_PARAMS belong to the default model's provider; a model on
        # another provider gets that provider's own variables (from the environment or .env; a proxy's
        # LITELLM_PROXY_API_*).
        api_key, api_base = self._route(model)
        if api_key is not None:
            kwargs["api_key"] = api_key
        if api_base:
            kwargs["api_base"] = api_base
        if cfg.credentials_for(model)[2]:
            kwargs.update(cfg.extra_params)
        if stream:
            kwargs["stream"] = True
            kwargs["stream_options"] = {"include_usage": True}
        if cfg.prompt_caching:
            points = cache_injection_points(model)
            if points:
                kwargs["cache_control_injection_points"] = points
        metadata = current_call_metadata()
        if metadata:
            # For LiteLLM's callbacks (LITELLM_CALLBACKS); LiteLLM does not send it to the provider.
            # Top-level keys are what CustomLoggers and Langfuse read; `requester_metadata` is the
            # one place LiteLLM's standard logging payload (OpenTelemetry's spans) keeps caller data.
            kwargs["metadata"] = {**metadata, "requester_metadata": dict(metadata)}
        return kwargs

    def _cost(self, litellm: ModuleType, model: str, raw: RawCompletion) -> float | None:
        if is_proxy_model(model):
            return self._proxy_cost(model, raw)
        if not raw.total_tokens:
            return None
        try:
            prompt, completion = litellm.cost_per_token(
                model=model,
                prompt_tokens=raw.prompt_tokens,
                completion_tokens=raw.completion_tokens,
                cache_read_input_tokens=raw.cached_tokens,
                cache_creation_input_tokens=raw.cache_creation_tokens,
            )
        except Exception:  # unknown/custom models have no price: cost is "unknown", not an error
            return None
        return float(prompt + completion)

    def _proxy_cost(self, model: str, raw: RawCompletion) -> float | None:
        """A proxy alias's cost: the proxy's header, else its /model/info prices, else unknown.

        Never LiteLLM's price list: ``litellm_proxy/gpt-4o`` may be any model the proxy calls gpt-4o.
        """
        if raw.response_cost is not None:
            return raw.response_cost
        api_key, api_base = self._route(model)
        price = CATALOG.price(api_base, api_key, model) if api_base and raw.total_tokens else None
        if price is None:
            return None
        return raw.prompt_tokens * price[0] + raw.completion_tokens * price[1]

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

    # -- the call loop: retries, then fallbacks, around one attempt --
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
            body = _request_body(messages, tools, stop, response_format)
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
                missing = self.missing_credentials(model) if attempt == 0 else []
                if missing:
                    # A missing key is a missing key: said at once, before any call (LiteLLM would
                    # fail locally, or send nothing useful, and look like a provider error).
                    if position < len(models) - 1:
                        logger.warning("skipping %s: %s not set", model, " and ".join(missing))
                        break
                    yield self._missing_key_error(model, missing, elapsed_ms())
                    return
                emitted = False
                raw = RawCompletion()
                try:
                    for event in self._attempt(litellm, body, model, stream):
                        if isinstance(event, RawCompletion):
                            raw = event
                        else:
                            emitted = True
                            yield event
                except Exception as exc:
                    _release_responses(exc)
                    failure = classify(exc)
                    if is_proxy_model(model):
                        failure = refine(failure, exc)
                    retries = self._retry_limit(model, failure)
                    last_model = position == len(models) - 1
                    # Once deltas reached the caller, a retry would duplicate them: report instead.
                    if not emitted and failure.error_type in RETRYABLE and attempt < retries:
                        wait = self._backoff(attempt, failure)
                        logger.warning(
                            "%s failed (%s), retry %d/%d in %.2f s: %s",
                            model,
                            failure.error_type.value,
                            attempt + 1,
                            retries,
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

    def _attempt(
        self, litellm: ModuleType, body: dict[str, Any], model: str, stream: bool
    ) -> Iterator[TextDelta | ToolCallDelta | RawCompletion]:
        """One call to ``model``: its deltas as they arrive, then the whole completion, last.

        Raises whatever LiteLLM raised; ``_run`` decides whether to retry, fall back or report.
        """
        kwargs = self._request_kwargs(model, stream=stream)
        if not stream:
            response = litellm.completion(**body, **kwargs)
            raw = raw_from_response(response)
            raw.response_cost = header_cost(getattr(response, "_hidden_params", None))
            yield raw
            return
        acc = StreamAccumulator()
        streaming_logging.apply(litellm)  # a callback registered since the import gets its logging
        # One answer per call: does anything (a callback, a cache) read LiteLLM's logging of it?
        nobody_reads_the_end = not streaming_logging.success_handler_needed(litellm)
        with unread_bookkeeping.skipping(nobody_reads_the_end):
            chunks = litellm.completion(**body, **kwargs)
        if nobody_reads_the_end:
            streaming_logging.skip_success_handler(chunks)
        tail_readable = nobody_reads_the_end and stream_tail.can_read_tail(chunks)
        try:
            for chunk in chunks:
                yield from _deltas(acc, chunk)
                if acc.finished and not acc.complete and tail_readable:
                    # Only the usage is left to come: read it without LiteLLM's end-of-stream
                    # rebuild (stream_tail.py). Without usage, the wrapper ends the stream as usual.
                    tail_readable = False
                    for rest in stream_tail.read_tail(chunks):
                        yield from _deltas(acc, rest)
                        if acc.complete:
                            break
                if acc.complete:
                    # Finish reason and usage are in: LiteLLM's remaining work on this stream (a
                    # second full rebuild, copies, logging) is nothing we read. Its success
                    # logging already ran once.
                    break
        finally:
            # Also when we or the caller stop early: release the HTTP response now.
            _close_stream(chunks)
        raw = acc.result()
        raw.response_cost = header_cost(getattr(chunks, "_hidden_params", None))
        yield raw

    def _retry_limit(self, model: str, failure: Failure) -> int:
        if is_proxy_model(model):  # the proxy retries upstream itself (see proxy.retry_limit)
            explicit = "num_retries" in self.config.model_fields_set
            return retry_limit(self.config.num_retries, explicit, failure.error_type)
        return self.config.num_retries

    def _missing_key_error(self, model: str, missing: list[str], latency_ms: float) -> LLMResponse:
        home = self.config.credentials_for(model)[2]
        home_variable = f"{self.config.env_prefix()}API_KEY" if home else None
        return LLMResponse(
            content=missing_key_message(model, missing, home_variable),
            status=LLMResponseStatus.ERROR,
            error_type=LLMErrorType.AUTH,
            model=model,
            latency_ms=latency_ms,
        )

    def _backoff(self, attempt: int, failure: Failure) -> float:
        cfg = self.config
        if failure.retry_after is not None:
            return min(failure.retry_after, cfg.retry_max_wait)
        # Jitter spreads out many clients that were throttled at the same moment.
        return min(cfg.retry_backoff * (2**attempt), cfg.retry_max_wait) * random.uniform(0.5, 1.0)

    def _error(
        self, failure: Failure, model: str, attempts: int, latency_ms: float, mid_stream: bool = False
    ) -> LLMResponse:
        if failure.proxy is not None:
            content = proxy_message(
                failure, model, key_variables=self.config.key_variables(model), api_base=self._route(model)[1]
            )
        else:
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
