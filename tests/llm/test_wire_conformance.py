"""One conformance set, run against every wire format through real LiteLLM and real HTTP.

Nine formats (tests/fakes/wire): OpenAI, Anthropic, Ollama, the LiteLLM proxy, Azure OpenAI, Google
Gemini, AWS Bedrock Converse (SigV4-signed, event-stream encoded), vLLM (``hosted_vllm/``) and
Mistral. Each answers the same questions: a plain answer, streamed text, one and parallel tool calls,
streamed tool arguments, a multi-turn replay with tool results, an image part, and the errors a user
meets most (a bad key, a rate limit, a prompt too long). What each fake received is read back into one
neutral shape (``Received``), so every format is held to the same expectation.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import pytest
from director.llm.base import LLMErrorType, LLMResponse, LLMResponseStatus, TextDelta, ToolCallDelta
from director.llm.litellm import LiteLLM

from tests.fakes.providers import FAKE_API_KEY, FakeProvider, Reply
from tests.fakes.wire import PROVIDER_ENV, WIRE_FORMATS, WireFormat
from tests.fakes.wire.bedrock import FAKE_AWS_ACCESS_KEY_ID, FakeBedrock
from tests.fakes.wire.received import Received

pytestmark = pytest.mark.integration

PRICING_TOOL = {
    "name": "pricing",
    "description": "Look up model prices",
    "parameters": {
        "type": "object",
        "properties": {"models": {"type": "array", "items": {"type": "string"}}},
    },
}
SUMMARIZE_TOOL = {
    "name": "summarize",
    "description": "Summarise a text",
    "parameters": {"type": "object", "properties": {"text": {"type": "string"}}},
}
TOOLS = [PRICING_TOOL, SUMMARIZE_TOOL]
HI = [{"role": "user", "content": "hi"}]
# A 1x1 PNG: enough for every format's image encoder.
PNG_DATA_URL = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="


@dataclass
class Wire:
    fmt: WireFormat
    fake: FakeProvider

    def llm(self, **overrides: Any) -> LiteLLM:
        return self.fmt.llm(self.fake, **overrides)

    def received(self, index: int = 0) -> list[Received]:
        got = self.fmt.read(self.fake.requests[index])
        # Formats without call ids (Gemini, Ollama) are compared on names, arguments and order.
        return got if self.fmt.call_ids else [_without_ids(r) for r in got]

    def expect(self, entries: list[Received]) -> list[Received]:
        return entries if self.fmt.call_ids else [_without_ids(r) for r in entries]


def _without_ids(r: Received) -> Received:
    return replace(r, tool_calls=[("", n, a) for _, n, a in r.tool_calls], tool_call_id="")


@pytest.fixture(params=list(WIRE_FORMATS))
def wire(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Wire]:
    fmt = WIRE_FORMATS[request.param]
    for name in PROVIDER_ENV:
        monkeypatch.delenv(name, raising=False)
    for name, value in fmt.env.items():
        monkeypatch.setenv(name, value)
    fake = fmt.open()
    yield Wire(fmt, fake)
    fake.close()


def _stream(llm: LiteLLM, messages: list[dict[str, Any]], **kw: Any) -> tuple[list[Any], LLMResponse]:
    events = list(llm.chat_completions_stream(messages, **kw))
    assert isinstance(events[-1], LLMResponse) and not any(isinstance(e, LLMResponse) for e in events[:-1])
    return events[:-1], events[-1]


def _call(llm: LiteLLM, stream: bool, messages: list[dict[str, Any]], **kw: Any) -> LLMResponse:
    return _stream(llm, messages, **kw)[1] if stream else llm.chat_completions(messages, **kw)


def _the_key_went_to_the_provider(wire: Wire) -> None:
    req = wire.fake.requests[0]
    if isinstance(wire.fake, FakeBedrock):
        # No API key: the request is signed (SigV4) with the AWS_* credentials, and the signature holds.
        assert wire.fmt.sent_key(req) == FAKE_AWS_ACCESS_KEY_ID and wire.fake.signatures[0] is True
    else:
        assert wire.fmt.sent_key(req) == FAKE_API_KEY


def test_plain_answer(wire: Wire) -> None:
    wire.fake.script(Reply(text="Four.", prompt_tokens=12, completion_tokens=3))
    r = wire.llm().chat_completions(
        [{"role": "system", "content": "be brief"}, {"role": "user", "content": "2+2?"}]
    )
    assert r.status == LLMResponseStatus.SUCCESS, r.content
    assert r.content == "Four." and r.tool_calls == []
    assert (r.send_tokens, r.recv_tokens, r.total_tokens) == (12, 3, 15)
    assert r.model == wire.fmt.model_name
    assert wire.received() == [Received("system", "be brief"), Received("user", "2+2?")]
    _the_key_went_to_the_provider(wire)


def test_streaming_text(wire: Wire) -> None:
    chunks = ["The ", "answer ", "is ", "four."]
    wire.fake.script(Reply(text="".join(chunks), chunks=chunks))
    deltas, final = _stream(wire.llm(), HI)
    assert [d.text for d in deltas if isinstance(d, TextDelta)] == chunks
    assert final.ok and final.content == "The answer is four.", final.content
    assert final.total_tokens == 15 and final.model == wire.fmt.model_name
    body = wire.fake.requests[0].json
    assert body.get("stream", True) is True  # Gemini and Bedrock say it in the URL instead


def test_one_tool_call(wire: Wire) -> None:
    wire.fake.script(Reply(tool_calls=[("pricing", {"models": ["gpt-4o"]})]))
    r = wire.llm().chat_completions(HI, tools=TOOLS)
    assert r.ok, r.content
    assert [(c.tool.name, c.tool.arguments) for c in r.tool_calls] == [("pricing", {"models": ["gpt-4o"]})]
    assert r.tool_calls[0].id and not r.tool_calls[0].arguments_malformed
    assert json.dumps(wire.fake.requests[0].json).count('"summarize"') == 1  # the tools were sent


def test_parallel_tool_calls(wire: Wire) -> None:
    calls = [("pricing", {"models": ["a"]}), ("pricing", {"models": ["b"]}), ("summarize", {"text": "x"})]
    wire.fake.script(Reply(text="Checking.", tool_calls=calls))
    r = wire.llm().chat_completions(HI, tools=TOOLS)
    assert r.ok, r.content
    assert [(c.tool.name, c.tool.arguments) for c in r.tool_calls] == calls
    assert len({c.id for c in r.tool_calls}) == 3  # ids are unique even where the format has none


def test_streamed_tool_arguments(wire: Wire) -> None:
    calls = [("pricing", {"models": ["gpt-4o", "claude"]}), ("summarize", {"text": "long"})]
    wire.fake.script(Reply(tool_calls=calls))
    deltas, final = _stream(wire.llm(), HI, tools=TOOLS)
    pieces: dict[int, str] = {}
    for d in deltas:
        if isinstance(d, ToolCallDelta):
            pieces[d.index] = pieces.get(d.index, "") + d.arguments
    assert [json.loads(pieces[i]) for i in sorted(pieces)] == [a for _, a in calls]
    assert final.ok and [(c.tool.name, c.tool.arguments) for c in final.tool_calls] == calls
    assert len({c.id for c in final.tool_calls}) == 2
    # the final response's ids are the ones the deltas announced
    announced = [d.id for d in deltas if isinstance(d, ToolCallDelta) and d.id]
    assert [c.id for c in final.tool_calls] == announced


def test_multi_turn_replay_with_tool_results(wire: Wire) -> None:
    wire.fake.script(Reply(text="GPT-4o costs 1."))
    messages = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "price?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": "call_a",
                    "type": "function",
                    "tool": {"name": "pricing", "arguments": {"models": ["gpt-4o"]}},
                },
                {"id": "call_b", "type": "function", "tool": {"name": "summarize", "arguments": {}}},
            ],
        },
        {"role": "tool", "tool_call_id": "call_a", "content": '{"price": 1}'},
        {"role": "tool", "tool_call_id": "call_b", "content": "done"},
        {"role": "assistant", "content": "It costs 1."},
        {"role": "user", "content": "and claude?"},
    ]
    r = wire.llm().chat_completions(messages, tools=TOOLS)
    assert r.ok and r.content == "GPT-4o costs 1.", r.content
    assert wire.received() == wire.expect(
        [
            Received("system", "be brief"),
            Received("user", "price?"),
            Received(
                "assistant", "", [("call_a", "pricing", {"models": ["gpt-4o"]}), ("call_b", "summarize", {})]
            ),
            Received("tool", '{"price": 1}', tool_call_id="call_a"),
            Received("tool", "done", tool_call_id="call_b"),
            Received("assistant", "It costs 1."),
            Received("user", "and claude?"),
        ]
    )


def test_image_part(wire: Wire) -> None:
    wire.fake.script(Reply(text="A single pixel."))
    content = [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": PNG_DATA_URL}},
    ]
    r = wire.llm().chat_completions([{"role": "user", "content": content}])
    assert r.ok and r.content == "A single pixel.", r.content
    assert wire.received() == [Received("user", "What is this?", images=1)]


@pytest.mark.parametrize("stream", [False, True])
def test_bad_key_is_auth_not_retried_and_not_leaked(
    wire: Wire, stream: bool, sleeps: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    wire.fake.script(wire.fmt.auth_error())
    with caplog.at_level(logging.INFO):
        r = _call(wire.llm(), stream, HI)
    assert r.status == LLMResponseStatus.ERROR and r.error_type == LLMErrorType.AUTH, r.content
    assert wire.fmt.model_name in r.content and "check" in r.content
    assert len(wire.fake.requests) == 1 and sleeps == []
    for secret in (FAKE_API_KEY, "fake-secret-access-key"):
        assert secret not in r.content and secret not in caplog.text


@pytest.mark.parametrize("stream", [False, True])
def test_rate_limit_is_retried_after_what_the_provider_asked(
    wire: Wire, stream: bool, sleeps: list[float]
) -> None:
    wire.fake.script(wire.fmt.rate_limit("0.2"), Reply(text="finally"))
    r = _call(wire.llm(retry_max_wait=5), stream, HI)
    assert r.ok and r.content == "finally", r.content
    assert len(wire.fake.requests) == 2 and sleeps == [0.2]


@pytest.mark.parametrize("stream", [False, True])
def test_context_window_error(wire: Wire, stream: bool, sleeps: list[float]) -> None:
    wire.fake.script(wire.fmt.context_window())
    r = _call(wire.llm(), stream, HI)
    assert r.error_type == LLMErrorType.CONTEXT_WINDOW, r.content
    assert "LITELLM_FALLBACK_MODELS" in r.content
    assert len(wire.fake.requests) == 1 and sleeps == []
