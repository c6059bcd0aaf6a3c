"""Error mapping, retry/fallback decisions and key redaction, with ``litellm.completion`` patched."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest
from director.llm.base import LLMErrorType, LLMResponse, LLMResponseStatus
from director.llm.config import LiteLLMConfig
from director.llm.litellm import LiteLLM, ensure_litellm
from director.llm.litellm_errors import FALLBACK_ON, RETRYABLE, classify, retry_after, user_message
from director.llm.redact import MASK, scrub

SECRET = "sk-unit-secret-key-987654321"


def _exc(name: str, message: str = "upstream said no", **extra: Any) -> Exception:
    litellm = ensure_litellm()
    cls = getattr(litellm, name)
    if name == "APIConnectionError":
        return cls(message=message, llm_provider="openai", model="m")
    if name == "Timeout":
        return cls(message=message, model="m", llm_provider="openai")
    try:
        return cls(message=message, llm_provider="openai", model="m", **extra)
    except TypeError:  # some classes insist on the HTTP response
        response = httpx.Response(
            getattr(cls, "status_code", 500) or 500, request=httpx.Request("POST", "http://x")
        )
        return cls(message=message, llm_provider="openai", model="m", response=response, **extra)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("AuthenticationError", LLMErrorType.AUTH),
        ("PermissionDeniedError", LLMErrorType.AUTH),
        ("NotFoundError", LLMErrorType.NOT_FOUND),
        ("BadRequestError", LLMErrorType.BAD_REQUEST),
        ("ContextWindowExceededError", LLMErrorType.CONTEXT_WINDOW),
        ("ContentPolicyViolationError", LLMErrorType.CONTENT_POLICY),
        ("RateLimitError", LLMErrorType.RATE_LIMIT),
        ("Timeout", LLMErrorType.TIMEOUT),
        ("InternalServerError", LLMErrorType.SERVER),
        ("ServiceUnavailableError", LLMErrorType.SERVER),
    ],
)
def test_litellm_exceptions_map_to_error_types(name: str, expected: LLMErrorType) -> None:
    assert classify(_exc(name)).error_type == expected


def test_refused_connection_reported_as_server_error_is_connection() -> None:
    exc = _exc("InternalServerError", "litellm.InternalServerError: Connection error.")
    exc.__cause__ = httpx.ConnectError("[Errno 111] Connection refused")
    assert classify(exc).error_type == LLMErrorType.CONNECTION


def test_unmapped_context_message_is_context_window() -> None:
    exc = _exc("BadRequestError", "This model's maximum context length is 8192 tokens")
    assert classify(exc).error_type == LLMErrorType.CONTEXT_WINDOW


def test_plain_python_errors() -> None:
    assert classify(ValueError("bug")).error_type == LLMErrorType.UNKNOWN
    assert classify(ConnectionRefusedError()).error_type == LLMErrorType.CONNECTION


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "3"}, 3.0),
        ({"retry-after-ms": "250"}, 0.25),
        ({"Retry-After": "soon"}, None),
        ({}, None),
    ],
)
def test_retry_after(headers: dict[str, str], expected: float | None) -> None:
    response = httpx.Response(429, headers=headers, request=httpx.Request("POST", "http://x"))
    exc = _exc("RateLimitError", response=response)
    assert retry_after(exc) == expected


def test_retry_after_http_date() -> None:
    response = httpx.Response(
        429,
        headers={"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"},
        request=httpx.Request("POST", "http://x"),
    )
    assert retry_after(_exc("RateLimitError", response=response)) == 0.0  # in the past: no wait


class Script:
    """Stands in for litellm.completion: raises or returns the scripted outcomes, recording calls."""

    def __init__(self, *outcomes: Any):
        self.outcomes = list(outcomes)
        self.calls: list[dict[str, Any]] = []

    def __call__(self, **kwargs: Any) -> Any:
        self.calls.append(kwargs)
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


def _ok(text: str = "fine") -> dict[str, Any]:
    return {
        "choices": [{"message": {"content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1},
    }


def _llm(**overrides: Any) -> LiteLLM:
    values = {
        "chat_model": "anthropic/claude-x",
        "api_key": SECRET,
        "retry_backoff": 0.01,
        "retry_max_wait": 0.5,
    }
    values.update(overrides)
    return LiteLLM(LiteLLMConfig(_env_file=None, **values))


def test_auth_error_is_not_retried_and_names_the_key_variable(
    monkeypatch: pytest.MonkeyPatch, sleeps: list[float]
) -> None:
    script = Script(_exc("AuthenticationError", f"invalid x-api-key {SECRET}"))
    monkeypatch.setattr(ensure_litellm(), "completion", script)
    r = _llm().chat_completions([{"role": "user", "content": "hi"}])
    assert r.status == LLMResponseStatus.ERROR and r.error_type == LLMErrorType.AUTH
    assert "ANTHROPIC_API_KEY" in r.content and "anthropic/claude-x" in r.content
    assert SECRET not in r.content and "invalid x-api-key" not in r.content
    assert len(script.calls) == 1 and sleeps == []


def test_retries_are_bounded_and_back_off_exponentially(
    monkeypatch: pytest.MonkeyPatch, sleeps: list[float]
) -> None:
    script = Script(*[_exc("InternalServerError") for _ in range(4)])
    monkeypatch.setattr(ensure_litellm(), "completion", script)
    r = _llm(num_retries=3, retry_backoff=0.1, retry_max_wait=0.25).chat_completions(
        [{"role": "user", "content": "x"}]
    )
    assert r.error_type == LLMErrorType.SERVER
    assert len(script.calls) == 4
    assert len(sleeps) == 3
    # base*2**n with jitter in [0.5, 1], capped at retry_max_wait
    assert 0.05 <= sleeps[0] <= 0.1 and 0.1 <= sleeps[1] <= 0.2 and 0.125 <= sleeps[2] <= 0.25


def test_retry_after_is_honoured_and_capped(monkeypatch: pytest.MonkeyPatch, sleeps: list[float]) -> None:
    req = httpx.Request("POST", "http://x")
    script = Script(
        _exc("RateLimitError", response=httpx.Response(429, headers={"retry-after": "0.3"}, request=req)),
        _exc("RateLimitError", response=httpx.Response(429, headers={"retry-after": "60"}, request=req)),
        _ok("after waiting"),
    )
    monkeypatch.setattr(ensure_litellm(), "completion", script)
    r = _llm(retry_max_wait=1.0).chat_completions([{"role": "user", "content": "x"}])
    assert r.ok and r.content == "after waiting"
    assert sleeps == [0.3, 1.0]


def test_our_retry_layer_is_the_only_one(monkeypatch: pytest.MonkeyPatch, sleeps: list[float]) -> None:
    script = Script(_ok())
    monkeypatch.setattr(ensure_litellm(), "completion", script)
    _llm().chat_completions([{"role": "user", "content": "x"}])
    assert script.calls[0]["num_retries"] == 0
    assert script.calls[0]["max_retries"] == 0


def test_every_knob_is_forwarded(monkeypatch: pytest.MonkeyPatch) -> None:
    script = Script(_ok())
    monkeypatch.setattr(ensure_litellm(), "completion", script)
    llm = _llm(
        api_base="http://proxy.local:4000",
        temperature=0.2,
        top_p=0.8,
        max_tokens=99,
        timeout=7,
        drop_params=False,
        extra_headers={"X-Team": "ai"},
        reasoning_effort="low",
    )
    llm.chat_completions(
        [{"role": "user", "content": "x"}], stop=["END"], response_format={"type": "json_object"}
    )
    call = script.calls[0]
    assert call["model"] == "anthropic/claude-x"
    assert call["api_key"] == SECRET and call["api_base"] == "http://proxy.local:4000"
    assert (call["temperature"], call["top_p"], call["max_tokens"], call["timeout"]) == (0.2, 0.8, 99, 7.0)
    assert call["drop_params"] is False
    assert call["extra_headers"] == {"X-Team": "ai"}
    assert call["reasoning_effort"] == "low"
    assert call["stop"] == ["END"] and call["response_format"] == {"type": "json_object"}


def test_unset_knobs_and_empty_key_are_not_forwarded(monkeypatch: pytest.MonkeyPatch) -> None:
    script = Script(_ok())
    monkeypatch.setattr(ensure_litellm(), "completion", script)
    LiteLLM(
        LiteLLMConfig(_env_file=None, chat_model="openai/gpt-4o", api_key="", api_base="")
    ).chat_completions([{"role": "user", "content": "x"}])
    call = script.calls[0]
    for absent in (
        "api_key",
        "api_base",
        "temperature",
        "top_p",
        "max_tokens",
        "reasoning_effort",
        "extra_headers",
        "stop",
        "tools",
    ):
        assert absent not in call


def test_fallback_on_another_provider_does_not_get_the_primary_key(
    monkeypatch: pytest.MonkeyPatch, sleeps: list[float]
) -> None:
    script = Script(_exc("ContextWindowExceededError"), _ok("from fallback"))
    monkeypatch.setattr(ensure_litellm(), "completion", script)
    r = _llm(api_base="http://a", fallback_models=["gemini/gemini-2.5-pro"]).chat_completions(
        [{"role": "user", "content": "x"}]
    )
    assert r.ok and r.model == "gemini/gemini-2.5-pro"
    assert script.calls[1]["model"] == "gemini/gemini-2.5-pro"
    assert "api_key" not in script.calls[1] and "api_base" not in script.calls[1]
    assert sleeps == []  # context-window errors go straight to the fallback


def test_bad_request_does_not_fall_back(monkeypatch: pytest.MonkeyPatch) -> None:
    script = Script(_exc("BadRequestError"), _ok())
    monkeypatch.setattr(ensure_litellm(), "completion", script)
    r = _llm(fallback_models=["anthropic/other"]).chat_completions([{"role": "user", "content": "x"}])
    assert r.error_type == LLMErrorType.BAD_REQUEST and len(script.calls) == 1


def test_unexpected_exception_becomes_unknown_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ensure_litellm(), "completion", Script(KeyError("choices")))
    r = _llm().chat_completions([{"role": "user", "content": "x"}])
    assert r.error_type == LLMErrorType.UNKNOWN and r.status == LLMResponseStatus.ERROR


def test_stream_failure_after_deltas_is_not_retried(
    monkeypatch: pytest.MonkeyPatch, sleeps: list[float]
) -> None:
    def broken_stream() -> Any:
        yield {"choices": [{"delta": {"content": "par"}}]}
        raise _exc("InternalServerError")

    script = Script(broken_stream(), _ok("should not be used"))
    monkeypatch.setattr(ensure_litellm(), "completion", script)
    events = list(_llm().chat_completions_stream([{"role": "user", "content": "x"}]))
    assert [getattr(e, "text", None) for e in events[:-1]] == ["par"]
    final = events[-1]
    assert isinstance(final, LLMResponse) and final.error_type == LLMErrorType.SERVER
    assert "broke off before it was complete" in final.content  # not "failed while answering"
    assert len(script.calls) == 1 and sleeps == []


def test_malformed_messages_are_an_error_response_not_an_exception() -> None:
    r = _llm().chat_completions([{"role": "assistant", "tool_calls": ["not a dict"]}])
    assert r.status == LLMResponseStatus.ERROR and r.error_type == LLMErrorType.BAD_REQUEST


def test_secrets_never_reach_log_lines(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    exc = _exc("AuthenticationError", f"Incorrect API key provided: {SECRET}")
    monkeypatch.setattr(ensure_litellm(), "completion", Script(exc))
    with caplog.at_level(logging.DEBUG):
        _llm().chat_completions([{"role": "user", "content": "hi"}])
    assert "AuthenticationError" in caplog.text  # the failure is logged, with its traceback...
    assert any(r.exc_text for r in caplog.records)
    assert SECRET not in caplog.text  # ...but never the key
    assert MASK in caplog.text


def test_scrub_masks_registered_and_key_shaped_tokens() -> None:
    _llm(api_key="plainsecretvalue42")  # configs register their keys
    text = scrub(
        "key plainsecretvalue42 and sk-abcdefghijkl and Bearer abcdefghijklmnop and AIzaSyA1234567890123456789012"
    )
    assert "plainsecretvalue42" not in text and "sk-abcdefghijkl" not in text
    assert "abcdefghijklmnop" not in text and "AIzaSyA" not in text
    assert text.count(MASK) == 4


def test_litellm_parsing_failure_wrapped_as_connection_error_is_unknown() -> None:
    exc = _exc("APIConnectionError", "litellm.APIConnectionError: 'usage'")
    exc.__cause__ = KeyError("usage")
    assert classify(exc).error_type == LLMErrorType.UNKNOWN


def test_real_connection_error_keeps_its_type() -> None:
    exc = _exc("APIConnectionError", "Connection error.")
    exc.__cause__ = httpx.ConnectError("[Errno 111] Connection refused")
    assert classify(exc).error_type == LLMErrorType.CONNECTION


def _wrapped(cause: BaseException) -> Exception:
    """A LiteLLM InternalServerError (synthetic 500) raised while handling ``cause``, as LiteLLM does."""
    try:
        try:
            raise cause
        except BaseException as inner:
            raise _exc("InternalServerError", f"OpenAIException - {inner}") from inner
    except Exception as outer:
        return outer


MESSAGE_ARGS: dict[str, Any] = {
    "prefix": "LITELLM_",
    "key_variables": ["LITELLM_API_KEY"],
    "api_base": None,
    "timeout": 10.0,
    "attempts": 1,
}


def test_an_encoding_failure_wrapped_as_500_is_local_not_the_provider() -> None:
    failure = classify(_wrapped(UnicodeEncodeError("utf-8", "x\udfff", 1, 2, "surrogates not allowed")))
    assert failure.error_type == LLMErrorType.LOCAL and failure.status_code is None
    assert failure.error_type not in RETRYABLE | FALLBACK_ON
    message = user_message(failure, "openai/m", **MESSAGE_ARGS)
    assert "cannot be encoded" in message and "nothing reached the provider" in message
    assert "500" not in message and "\udfff" not in message


def test_a_real_provider_500_stays_a_server_error() -> None:
    request = httpx.Request("POST", "http://x")
    http_error = httpx.HTTPStatusError("500", request=request, response=httpx.Response(500, request=request))
    assert classify(_wrapped(http_error)).error_type == LLMErrorType.SERVER
    assert classify(_exc("InternalServerError")).error_type == LLMErrorType.SERVER


def test_a_decoding_failure_of_an_answer_is_not_local() -> None:
    # Bytes the provider sent that do not decode are the provider's doing, not ours.
    failure = classify(_wrapped(UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte")))
    assert failure.error_type == LLMErrorType.SERVER


def test_an_error_before_the_first_chunk_is_judged_by_the_providers_own_error() -> None:
    # Gemini's request is only sent when the stream is first read, so LiteLLM reports its HTTP
    # errors (429 with Retry-After, a bad key) as a MidStreamFallbackError before any chunk.
    from litellm.exceptions import MidStreamFallbackError

    litellm = ensure_litellm()
    response = httpx.Response(429, headers={"retry-after": "3"}, request=httpx.Request("POST", "http://x"))
    limited = litellm.RateLimitError(message="quota", llm_provider="gemini", model="m", response=response)
    before, after = (
        MidStreamFallbackError("wrapped", "m", "gemini", original_exception=limited, is_pre_first_chunk=pre)
        for pre in (True, False)
    )
    failure = classify(before)
    assert (failure.error_type, failure.status_code, failure.retry_after) == (
        LLMErrorType.RATE_LIMIT,
        429,
        3.0,
    )
    assert (
        classify(after).error_type == LLMErrorType.SERVER
    )  # a stream that had started: not a 429 to wait on
