"""The LiteLLM adapter through real LiteLLM and real HTTP, against fake provider servers on 127.0.0.1.

Every test runs for each wire format LiteLLM speaks here: OpenAI chat completions, the Anthropic
Messages API, Ollama's /api/chat, and a LiteLLM proxy (OpenAI shape at /chat/completions). What every
format must do alike (answers, streams, tool calls, replays, images, common errors) is the conformance
set in test_wire_conformance.py, over nine formats; this file holds the adapter's own behaviour.
"""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from director.llm.base import LLMErrorType, LLMResponse, LLMResponseStatus, TextDelta
from director.llm.litellm import LiteLLM, ensure_litellm

from tests.fakes.providers import (
    FAKE_API_KEY,
    CutOffReply,
    FakeAnthropic,
    FakeOllama,
    FakeOpenAI,
    FakeProvider,
    RecordedRequest,
    Reply,
    context_window_reply,
    make_litellm,
)

pytestmark = pytest.mark.integration

PRICING_TOOL = {
    "name": "pricing",
    "description": "Look up model prices",
    "parameters": {
        "type": "object",
        "properties": {"models": {"type": "array", "items": {"type": "string"}}},
    },
}
HI = [{"role": "user", "content": "hi"}]


@dataclass
class Provider:
    """One wire format: its fake server, the model string, and how to read what the fake received."""

    kind: str  # openai | anthropic | ollama | proxy
    fake: FakeProvider
    model: str
    path: str

    def llm(self, **overrides: Any) -> LiteLLM:
        return make_litellm(self.fake, model=overrides.pop("model", self.model), **overrides)

    @property
    def prefix(self) -> str:
        return self.model.split("/", 1)[0]

    def sent_model(self, req: RecordedRequest) -> str:
        return req.json["model"]

    def sent_key(self, req: RecordedRequest) -> str | None:
        if self.kind == "anthropic":
            return req.headers.get("x-api-key")
        auth = req.headers.get("authorization", "")
        return auth.removeprefix("Bearer ") or None

    def sent_tool_names(self, req: RecordedRequest) -> list[str]:
        tools = req.json.get("tools") or []
        if self.kind == "anthropic":
            return [t["name"] for t in tools]
        return [t["function"]["name"] for t in tools]

    def sent_texts(self, req: RecordedRequest) -> list[str]:
        """The plain text of each user/system message the provider received."""
        out = []
        for m in req.json["messages"]:
            content = m.get("content")
            if isinstance(content, list):
                out += [b["text"] for b in content if b.get("type") == "text"]
            elif content:
                out.append(content)
        return out


@pytest.fixture(params=["openai", "anthropic", "ollama", "proxy"])
def provider(request: pytest.FixtureRequest) -> Iterator[Provider]:
    kind = request.param
    if kind == "anthropic":
        fake: FakeProvider = FakeAnthropic()
        p = Provider(kind, fake, "anthropic/fake-model", "/v1/messages")
    elif kind == "ollama":
        fake = FakeOllama()
        p = Provider(kind, fake, "ollama_chat/fake-model", "/api/chat")
    elif kind == "proxy":
        fake = FakeOpenAI()
        p = Provider(kind, fake, "litellm_proxy/fake-model", "/chat/completions")
    else:
        fake = FakeOpenAI()
        p = Provider(kind, fake, "openai/fake-model", "/v1/chat/completions")
    yield p
    fake.close()


def _stream(llm: LiteLLM, messages: list[dict[str, Any]], **kw: Any) -> tuple[list[Any], LLMResponse]:
    events = list(llm.chat_completions_stream(messages, **kw))
    finals = [e for e in events if isinstance(e, LLMResponse)]
    assert len(finals) == 1 and events[-1] is finals[0], "a stream ends with exactly one LLMResponse"
    return events[:-1], finals[0]


def test_plain_answer_and_what_the_server_received(provider: Provider) -> None:
    provider.fake.script(Reply(text="Four.", prompt_tokens=12, completion_tokens=3))
    llm = provider.llm(extra_headers={"X-Team": "director"}, temperature=0.25)
    r = llm.chat_completions([{"role": "system", "content": "be brief"}, {"role": "user", "content": "2+2?"}])
    assert r.status == LLMResponseStatus.SUCCESS and r.error_type is None
    assert r.content == "Four." and r.tool_calls == []
    assert (r.send_tokens, r.recv_tokens, r.total_tokens) == (12, 3, 15)
    assert r.model == provider.model and r.latency_ms is not None and r.latency_ms > 0
    [req] = provider.fake.requests
    assert req.path == provider.path
    assert provider.sent_model(req) == "fake-model"
    assert provider.sent_key(req) == FAKE_API_KEY
    assert req.headers.get("x-team") == "director"
    texts = json.dumps(req.json)
    assert "be brief" in texts and "2+2?" in provider.sent_texts(req)
    assert "0.25" in texts  # temperature forwarded (placement differs per provider)


def test_usage_missing_gives_zero_tokens(provider: Provider, sleeps: list[float]) -> None:
    provider.fake.script(Reply(text="no usage here", usage=False))
    r = provider.llm().chat_completions(HI)
    if provider.kind == "anthropic":
        # The Anthropic API always sends usage and LiteLLM cannot parse a message without it: the
        # adapter must turn that into an error response, not retry it as a network failure.
        assert r.status == LLMResponseStatus.ERROR and r.error_type == LLMErrorType.UNKNOWN
        assert len(provider.fake.requests) == 1 and sleeps == []
        return
    assert r.ok and r.content == "no usage here"
    if provider.kind == "ollama":
        # LiteLLM estimates Ollama's token counts locally when the server omits them
        assert r.total_tokens == r.send_tokens + r.recv_tokens
    else:
        assert (r.send_tokens, r.recv_tokens, r.total_tokens) == (0, 0, 0)
        assert r.cost is None


@pytest.mark.parametrize("stream", [False, True])
def test_empty_and_malformed_arguments(provider: Provider, stream: bool) -> None:
    provider.fake.script(
        Reply(tool_calls=[("pricing", ""), ("pricing", "{not json"), ("pricing", '{"ok": 1}')])
    )
    llm = provider.llm()
    r = (
        _stream(llm, HI, tools=[PRICING_TOOL])[1]
        if stream
        else llm.chat_completions(HI, tools=[PRICING_TOOL])
    )
    assert r.ok and len(r.tool_calls) == 3
    empty, bad, good = r.tool_calls
    assert empty.tool.arguments == {} and not empty.arguments_malformed
    assert bad.tool.arguments == {} and bad.arguments_malformed
    assert "{not json" in bad.tool.raw_arguments
    assert good.tool.arguments == {"ok": 1}


@pytest.mark.parametrize("stream", [False, True])
def test_401_is_auth_not_retried_and_leaks_nothing(
    provider: Provider, stream: bool, sleeps: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    secret = "sk-live-secret-never-shown-42"
    body = {"error": {"message": f"Incorrect API key provided: {secret}", "type": "invalid_request_error"}}
    if provider.kind == "anthropic":
        body = {
            "type": "error",
            "error": {"type": "authentication_error", "message": f"invalid x-api-key {secret}"},
        }
    provider.fake.script(Reply(status=401, body=body))
    llm = provider.llm(api_key=secret)
    with caplog.at_level(logging.INFO):
        r = _stream(llm, HI)[1] if stream else llm.chat_completions(HI)
    assert r.status == LLMResponseStatus.ERROR and r.error_type == LLMErrorType.AUTH
    assert provider.model in r.content and "LITELLM_API_KEY" in r.content
    if provider.kind == "anthropic":
        assert "ANTHROPIC_API_KEY" in r.content
    assert len(provider.fake.requests) == 1 and sleeps == []
    assert provider.sent_key(provider.fake.requests[0]) == secret  # it did go to the provider...
    assert secret not in r.content and secret not in caplog.text  # ...and nowhere else
    assert "Incorrect API key" not in r.content and "invalid x-api-key" not in r.content  # raw body not shown
    assert "AUTH" in caplog.text.upper()  # the failure itself is logged


@pytest.mark.parametrize("stream", [False, True])
def test_429_with_retry_after_then_success(provider: Provider, stream: bool, sleeps: list[float]) -> None:
    provider.fake.script(Reply(status=429, headers={"Retry-After": "0.2"}), Reply(text="finally"))
    llm = provider.llm(retry_max_wait=5)
    r = _stream(llm, HI)[1] if stream else llm.chat_completions(HI)
    assert r.ok and r.content == "finally"
    assert len(provider.fake.requests) == 2
    assert sleeps == [0.2]  # the provider's Retry-After, not our own backoff


def test_500_is_retried_up_to_num_retries(provider: Provider, sleeps: list[float]) -> None:
    provider.fake.responder = lambda req: Reply(status=500)
    r = provider.llm(num_retries=2).chat_completions(HI)
    assert r.error_type == LLMErrorType.SERVER
    assert len(provider.fake.requests) == 3 and len(sleeps) == 2
    assert "500" in r.content and "The server had an error" not in r.content


@pytest.mark.parametrize("stream", [False, True])
def test_timeout(provider: Provider, stream: bool, sleeps: list[float]) -> None:
    provider.fake.latency = 2.0
    llm = provider.llm(timeout=0.3, num_retries=1)
    r = _stream(llm, HI)[1] if stream else llm.chat_completions(HI)
    assert r.error_type == LLMErrorType.TIMEOUT
    assert "0.3 s" in r.content and "LITELLM_TIMEOUT" in r.content
    assert len(sleeps) == 1  # timeouts are retried


@pytest.mark.parametrize("stream", [False, True])
def test_connection_refused(provider: Provider, stream: bool, sleeps: list[float]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]
    base = f"http://127.0.0.1:{dead_port}" + ("/v1" if provider.kind == "openai" else "")
    llm = provider.llm(api_base=base, num_retries=1)
    r = _stream(llm, HI)[1] if stream else llm.chat_completions(HI)
    assert r.error_type == LLMErrorType.CONNECTION
    assert f"127.0.0.1:{dead_port}" in r.content and "LITELLM_API_BASE" in r.content
    assert len(sleeps) == 1


@pytest.mark.parametrize("stream", [False, True])
def test_context_window_error_falls_back(provider: Provider, stream: bool, sleeps: list[float]) -> None:
    provider.fake.script(context_window_reply(provider.fake.name), Reply(text="from the big model"))
    llm = provider.llm(fallback_models=[f"{provider.prefix}/fake-big"])
    r = _stream(llm, HI)[1] if stream else llm.chat_completions(HI)
    assert r.ok and r.content == "from the big model"
    assert r.model == f"{provider.prefix}/fake-big"
    assert [provider.sent_model(q) for q in provider.fake.requests] == ["fake-model", "fake-big"]
    assert sleeps == []


def test_context_window_without_fallback(provider: Provider) -> None:
    provider.fake.script(context_window_reply(provider.fake.name))
    r = provider.llm().chat_completions(HI)
    assert r.error_type == LLMErrorType.CONTEXT_WINDOW
    assert "LITELLM_FALLBACK_MODELS" in r.content and len(provider.fake.requests) == 1


def test_all_fallbacks_failing_reports_the_last_model(provider: Provider, sleeps: list[float]) -> None:
    provider.fake.responder = lambda req: Reply(status=503)
    llm = provider.llm(num_retries=0, fallback_models=[f"{provider.prefix}/fb1", f"{provider.prefix}/fb2"])
    r = llm.chat_completions(HI)
    assert r.error_type == LLMErrorType.SERVER and r.model == f"{provider.prefix}/fb2"
    assert [provider.sent_model(q) for q in provider.fake.requests] == ["fake-model", "fb1", "fb2"]


def test_cost_of_a_known_model(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(Reply(text="priced", prompt_tokens=1000, completion_tokens=500))
    r = make_litellm(fake_openai, model="openai/gpt-4o").chat_completions(HI)
    expected = sum(
        ensure_litellm().cost_per_token(model="openai/gpt-4o", prompt_tokens=1000, completion_tokens=500)
    )
    assert r.cost is not None and r.cost > 0
    assert r.cost == pytest.approx(expected)


def test_unknown_model_has_no_cost(fake_openai: FakeOpenAI) -> None:
    r = make_litellm(fake_openai).chat_completions(HI)
    assert r.ok and r.total_tokens == 15 and r.cost is None


def test_response_format_and_stop_reach_the_provider(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(Reply(text='{"a": 1}'))
    r = make_litellm(fake_openai, max_tokens=64, top_p=0.5).chat_completions(
        HI, stop=["END"], response_format={"type": "json_object"}
    )
    assert r.ok
    sent = fake_openai.requests[0].json
    assert sent["stop"] == ["END"] and sent["response_format"] == {"type": "json_object"}
    assert sent["max_tokens"] == 64 and sent["top_p"] == 0.5


def test_missing_key_uses_provider_env_var(
    fake_anthropic: FakeAnthropic, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-from-env-777")
    llm = make_litellm(fake_anthropic, api_key="")
    assert llm.chat_completions(HI).ok
    assert fake_anthropic.requests[0].headers["x-api-key"] == "sk-ant-from-env-777"


def test_warmup_makes_no_request_and_the_adapter_still_works(fake_openai: FakeOpenAI) -> None:
    llm = make_litellm(fake_openai)
    llm.warmup()
    assert fake_openai.requests == []  # the warm-up call is mocked, never sent
    assert llm.chat_completions(HI).ok and len(fake_openai.requests) == 1


def test_streamed_cost_and_usage_match_the_json_call(fake_openai: FakeOpenAI) -> None:
    # The stream stops being read right after its usage chunk: tokens and cost must still be complete.
    reply = Reply(text="priced and streamed", prompt_tokens=1000, completion_tokens=500)
    fake_openai.script(reply, reply)
    llm = make_litellm(fake_openai, model="openai/gpt-4o")
    whole = llm.chat_completions(HI)
    deltas, streamed = _stream(llm, HI)
    assert "".join(d.text for d in deltas) == streamed.content == whole.content == "priced and streamed"
    assert (streamed.send_tokens, streamed.recv_tokens, streamed.total_tokens) == (1000, 500, 1500)
    assert streamed.finish_reason == whole.finish_reason == "stop"
    assert streamed.cost is not None and streamed.cost == pytest.approx(whole.cost)


def test_streamed_answer_without_usage(provider: Provider) -> None:
    chunks = ["no ", "usage ", "here"]
    provider.fake.script(Reply(text="".join(chunks), chunks=chunks, usage=False))
    deltas, final = _stream(provider.llm(num_retries=0), HI)
    assert [d.text for d in deltas if isinstance(d, TextDelta)] == chunks
    assert final.ok and final.content == "no usage here" and final.finish_reason == "stop"
    # Streamed without usage, LiteLLM counts the tokens itself in its end-of-stream chunk.
    assert final.total_tokens == final.send_tokens + final.recv_tokens > 0


def test_stream_cut_mid_answer_says_it_broke_off_not_http_500(provider: Provider) -> None:
    # The provider answered 200 and started streaming, then the connection dropped: LiteLLM reports
    # its own synthetic 500, which would tell the user the provider failed to answer at all.
    chunks = ["Half of ", "the answer"]
    provider.fake.script(CutOffReply(chunks), Reply(text="never asked for"))
    deltas, final = _stream(provider.llm(num_retries=2), HI)
    assert "".join(d.text for d in deltas if isinstance(d, TextDelta)) == "Half of the answer"
    assert final.status == LLMResponseStatus.ERROR
    assert final.error_type == LLMErrorType.CONNECTION
    assert "broke off" in final.content and "try again" in final.content
    assert "HTTP" not in final.content
    assert len(provider.fake.requests) == 1  # what the user already saw is never re-sent by a retry


def test_extra_params_reach_the_provider(provider: Provider) -> None:
    # Ollama takes num_ctx inside "options"; the others get seed in the body. Placement is LiteLLM's.
    params = {"num_ctx": 16384} if provider.kind == "ollama" else {"seed": 7}
    provider.fake.script(Reply(text="ok"), Reply(text="ok"))
    assert provider.llm(extra_params=params).chat_completions(HI).ok
    body = provider.fake.requests[0].json
    if provider.kind == "ollama":
        assert body["options"]["num_ctx"] == 16384
    elif provider.kind == "anthropic":
        assert "seed" not in body  # Anthropic has no seed: drop_params drops it instead of a 400
    else:
        assert body["seed"] == 7


@pytest.mark.parametrize("stream", [False, True])
def test_a_lone_surrogate_in_the_context_no_longer_poisons_the_session(
    provider: Provider, stream: bool, sleeps: list[float]
) -> None:
    # A context stored before text was normalised at the edge (or a model's own output) may hold
    # a lone surrogate; the OpenAI SDK cannot encode it and every later call used to fail.
    provider.fake.script(Reply(text="Still here."))
    poisoned = [
        {"role": "user", "content": "bad \udfff"},
        {"role": "assistant", "content": "half an emoji \ud83d"},
        {"role": "user", "content": "and now?"},
    ]
    llm = provider.llm()
    r = _stream(llm, poisoned)[1] if stream else llm.chat_completions(poisoned)
    assert r.ok and r.content == "Still here.", r.content
    assert len(provider.fake.requests) == 1 and sleeps == []
    sent = provider.sent_texts(provider.fake.requests[0])
    assert "bad \ufffd" in sent and "and now?" in sent


@pytest.mark.parametrize("stream", [False, True])
def test_a_local_failure_is_not_reported_as_a_provider_500(
    fake_openai: FakeOpenAI, stream: bool, sleeps: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    # No key anywhere: the OpenAI SDK refuses before sending, and LiteLLM wraps that in an
    # InternalServerError with status 500. Nothing reached the provider, so nothing is retried.
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    llm = make_litellm(fake_openai, model="openai/fake-model", api_key="")
    r = _stream(llm, HI)[1] if stream else llm.chat_completions(HI)
    assert r.status == LLMResponseStatus.ERROR and r.error_type == LLMErrorType.LOCAL
    assert fake_openai.requests == [] and sleeps == []
    assert "500" not in r.content and "provider failed" not in r.content
    assert "nothing reached the provider" in r.content and "OPENAI_API_KEY" in r.content
