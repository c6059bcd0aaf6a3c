"""Reading an OpenAI-format stream's tail without LiteLLM's end-of-stream rebuild (llm/stream_tail.py).

Real LiteLLM over real HTTP to the fake provider. Each case runs the same call twice, once with the
tail read by the adapter and once the way LiteLLM ends a stream itself (the tail reading turned off),
and the two answers must be the same in every field Director reports: text, tool calls, tokens, cached
tokens, finish reason, cost, status and error. A spy on ``litellm.stream_chunk_builder`` shows which way
each call went.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from director.llm import stream_tail
from director.llm.base import LLMResponse, TextDelta
from director.llm.litellm import ensure_litellm

from tests.fakes.litellm_callbacks import registered
from tests.fakes.providers import FakeAnthropic, FakeOpenAI, RecordedRequest, Reply, make_litellm

# Usage shapes OpenAI-format servers send, beyond the plain three counts.
USAGES: dict[str, dict[str, Any]] = {
    "plain": {"prompt_tokens": 1200, "completion_tokens": 340, "total_tokens": 1540},
    "cached": {
        "prompt_tokens": 2048,
        "completion_tokens": 60,
        "total_tokens": 2108,
        "prompt_tokens_details": {"cached_tokens": 1536, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0},
    },
    "reasoning": {
        "prompt_tokens": 90,
        "completion_tokens": 700,
        "total_tokens": 790,
        "completion_tokens_details": {"reasoning_tokens": 512, "accepted_prediction_tokens": 0},
    },
    # A server whose total is not the sum (LiteLLM's rebuild reports the sum).
    "odd_total": {"prompt_tokens": 50, "completion_tokens": 20, "total_tokens": 99},
    # DeepSeek's own cache fields, which LiteLLM maps to cached tokens.
    "deepseek": {
        "prompt_tokens": 400,
        "completion_tokens": 30,
        "total_tokens": 430,
        "prompt_cache_hit_tokens": 256,
        "prompt_cache_miss_tokens": 144,
    },
    # OpenRouter states the cost in the usage.
    "with_cost": {"prompt_tokens": 300, "completion_tokens": 40, "total_tokens": 340, "cost": 0.00123},
}

# Cached input tokens each shape states, as LiteLLM reads them (DeepSeek's hit count included).
CACHED = {"cached": 1536, "deepseek": 256}


class UsageShapedOpenAI(FakeOpenAI):
    """The OpenAI fake, sending ``usage`` as given; optionally dropping the connection after the finish."""

    def __init__(self) -> None:
        super().__init__()
        self.usage: dict[str, Any] | None = USAGES["plain"]
        self.drop_after_finish = False
        self.usage_on_finish = False  # the usage in the finish chunk itself, no chunk of its own
        self.keepalive_after_finish = False  # an SSE comment line between the finish and the usage
        self.drop_after_usage = False  # the connection breaks after the usage chunk, before [DONE]

    def next_id(self) -> int:
        return 7  # the same ids in both runs of a comparison

    def _usage(self, reply: Reply) -> dict[str, Any]:  # type: ignore[override]
        return dict(self.usage or {})

    def _stream(self, req: RecordedRequest, reply: Reply) -> Iterator[str]:
        for event in super()._stream(req, reply):
            if '"usage"' in event and (self.usage is None or self.usage_on_finish):
                continue  # a server that ignores stream_options.include_usage, or sent it already
            finish = '"finish_reason": "' in event
            if finish and self.usage_on_finish:
                payload = json.loads(event.removeprefix("data: "))
                event = f"data: {json.dumps(payload | {'usage': self._usage(reply)})}\n\n"
            yield event
            if finish and self.drop_after_finish:
                raise ConnectionAbortedError("the fake provider drops the stream after the finish chunk")
            if '"usage"' in event and self.drop_after_usage:
                raise ConnectionAbortedError("the fake provider drops the stream before [DONE]")
            if finish and self.keepalive_after_finish:
                yield ": keep-alive\n\n"


@pytest.fixture
def fake() -> Iterator[UsageShapedOpenAI]:
    server = UsageShapedOpenAI()
    yield server
    server.close()


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many times LiteLLM rebuilt a whole streamed response (its end-of-stream work)."""
    litellm = ensure_litellm()
    real = litellm.stream_chunk_builder
    calls: list[int] = []

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(litellm, "stream_chunk_builder", counting)
    return calls


def stream_once(fake: Any, model: str, reply: Reply) -> tuple[str, LLMResponse]:
    fake.script(reply)
    llm = make_litellm(fake, model=model, num_retries=0)
    events = list(llm.chat_completions_stream([{"role": "user", "content": "hi"}]))
    final = events[-1]
    assert isinstance(final, LLMResponse)
    text = "".join(event.text for event in events if isinstance(event, TextDelta))
    return text, final


def reported(text: str, response: LLMResponse) -> dict[str, Any]:
    fields = response.model_dump(exclude={"latency_ms"})
    return {"streamed_text": text, **fields}


def both_ways(
    fake: Any, model: str, reply: Reply, builds: list[int], monkeypatch: pytest.MonkeyPatch
) -> tuple[dict[str, Any], dict[str, Any], tuple[int, int]]:
    """(with the tail read here, the way LiteLLM ends it itself, (rebuilds done by each)."""
    before = len(builds)
    with_tail = reported(*stream_once(fake, model, reply))
    middle = len(builds)
    with monkeypatch.context() as patch:
        patch.setattr(stream_tail, "can_read_tail", lambda stream: False)
        litellms_way = reported(*stream_once(fake, model, reply))
    return with_tail, litellms_way, (middle - before, len(builds) - middle)


@pytest.mark.parametrize("shape", sorted(USAGES))
@pytest.mark.parametrize(
    "model",
    ["openai/gpt-4o", "litellm_proxy/gpt-4o", "deepseek/deepseek-chat", "hosted_vllm/m", "together_ai/m"],
)
def test_the_tail_read_reports_what_litellms_own_end_reports(fake, builds, monkeypatch, shape, model):
    fake.usage = USAGES[shape]
    reply = Reply(text="The answer, streamed in pieces.", tool_calls=[("lookup", {"q": "tail"})])
    with_tail, litellms_way, rebuilds = both_ways(fake, model, reply, builds, monkeypatch)
    assert rebuilds == (0, 1), "the tail was not read without LiteLLM's rebuild (or the comparison was)"
    assert with_tail == litellms_way
    assert with_tail["status"] == "success" and with_tail["send_tokens"] == USAGES[shape]["prompt_tokens"]
    assert with_tail["tool_calls"][0]["tool"]["arguments"] == {"q": "tail"}
    assert with_tail["cached_tokens"] == CACHED.get(shape, 0)


@pytest.mark.parametrize("model", ["openrouter/openai/gpt-4o", "groq/llama-3.3-70b-versatile"])
def test_providers_with_their_own_stream_handler_end_the_litellm_way(fake, builds, monkeypatch, model):
    # Their streams come through LiteLLM's handlers of their own (OpenRouter's cost in the usage, for
    # one): left to LiteLLM's end of stream.
    fake.usage = USAGES["with_cost"]
    with_tail, litellms_way, rebuilds = both_ways(
        fake, model, Reply(text="their own way"), builds, monkeypatch
    )
    assert rebuilds == (1, 1)
    assert with_tail == litellms_way and with_tail["status"] == "success"


# LiteLLM's plain OpenAI-format handler ends its streams itself (its [DONE] and other non-data lines
# after the finish become chunks that stop the stream); the OpenAI SDK's stream drops them.
FORMATS = ["openai/gpt-4o", "deepseek/deepseek-chat", "hosted_vllm/m", "together_ai/m"]


@pytest.mark.parametrize("model", FORMATS)
def test_a_server_that_sends_no_usage_is_counted_by_litellm_as_before(fake, builds, monkeypatch, model):
    fake.usage = None
    with_tail, litellms_way, rebuilds = both_ways(
        fake, model, Reply(text="no usage from this server"), builds, monkeypatch
    )
    assert rebuilds == (1, 1), "without usage, LiteLLM's end of stream should count the tokens"
    assert with_tail == litellms_way
    assert with_tail["status"] == "success", with_tail
    assert with_tail["send_tokens"] > 0 and with_tail["recv_tokens"] > 0  # LiteLLM's own count


@pytest.mark.parametrize("model", FORMATS)
def test_usage_sent_on_the_finish_chunk_is_read_as_before(fake, builds, monkeypatch, model):
    fake.usage_on_finish = True
    with_tail, litellms_way, _ = both_ways(
        fake, model, Reply(text="usage on the finish"), builds, monkeypatch
    )
    assert with_tail == litellms_way
    assert with_tail["status"] == "success", with_tail
    assert (with_tail["send_tokens"], with_tail["recv_tokens"]) == (1200, 340)


@pytest.mark.parametrize("model", FORMATS)
def test_a_keep_alive_line_after_the_finish_changes_nothing(fake, builds, monkeypatch, model):
    fake.keepalive_after_finish = True
    with_tail, litellms_way, _ = both_ways(fake, model, Reply(text="kept alive"), builds, monkeypatch)
    assert with_tail == litellms_way
    assert with_tail["status"] == "success", with_tail
    if model.startswith("openai/"):  # the OpenAI SDK drops the comment line and reads the usage after it
        assert (with_tail["send_tokens"], with_tail["recv_tokens"]) == (1200, 340)
    else:  # LiteLLM's handler ends the stream at that line and counts the tokens itself, both ways
        assert with_tail["send_tokens"] > 0 and with_tail["recv_tokens"] > 0


@pytest.mark.parametrize("model", FORMATS)
def test_a_stream_ends_without_a_failure_logged(fake, builds, caplog, model):
    # The tail's normal end (LiteLLM's handler stopping at [DONE]) is no failure handed back.
    caplog.set_level("DEBUG", logger="director.llm.stream_tail")
    _, response = stream_once(fake, model, Reply(text="a clean end"))
    assert response.ok and not [r for r in caplog.records if "failed" in r.getMessage()]
    assert len(builds) == 0


def test_a_connection_lost_after_the_finish_is_reported_as_before(fake, builds, monkeypatch):
    fake.drop_after_finish = True
    with_tail, litellms_way, rebuilds = both_ways(
        fake, "openai/gpt-4o", Reply(text="cut before the usage"), builds, monkeypatch
    )
    assert with_tail == litellms_way
    assert with_tail["status"] == "error" and with_tail["error_type"] == "connection", with_tail
    assert with_tail["streamed_text"] == "cut before the usage"
    assert rebuilds == (0, 0)


def test_a_registered_callback_keeps_litellms_end_of_stream(fake, builds):
    from litellm.integrations.custom_logger import CustomLogger

    with registered(CustomLogger()):
        _, response = stream_once(fake, "openai/gpt-4o", Reply(text="logged by a callback"))
    assert response.ok and len(builds) == 1, "a callback reads the rebuilt response: it must be built"


def test_other_stream_formats_end_the_litellm_way(builds):
    # Anthropic spreads its usage over several events, which LiteLLM's rebuild merges.
    with FakeAnthropic() as anthropic:
        _, response = stream_once(
            anthropic,
            "anthropic/claude-sonnet-4-5",
            Reply(text="hello", prompt_tokens=12, completion_tokens=3),
        )
    assert response.ok and (response.send_tokens, response.recv_tokens) == (12, 3)
    assert len(builds) == 1


def test_a_connection_lost_after_the_usage_leaves_the_answer_whole(fake, builds):
    # Everything the answer needs has arrived; the adapter stops reading at the usage, as it always has
    # (LiteLLM's own end would have waited for [DONE] and reported the break).
    fake.drop_after_usage = True
    text, response = stream_once(fake, "openai/gpt-4o", Reply(text="whole before the break"))
    assert response.ok and text == "whole before the break"
    assert (response.send_tokens, response.recv_tokens) == (1200, 340)
    assert len(builds) == 0
