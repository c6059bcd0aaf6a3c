"""Prompt caching: for an Anthropic model the stable prefix (system prompt, with the tools before it,
and the conversation so far) arrives marked with cache_control at the fake Anthropic server; cached
input tokens are counted and priced at the cached rate by LiteLLM; other providers get no markers."""

from __future__ import annotations

from typing import Any

import pytest
from director.llm.base import LLMResponse

from tests.fakes.providers import FakeAnthropic, FakeOpenAI, Reply, make_litellm

pytestmark = pytest.mark.integration

MODEL = "anthropic/claude-sonnet-4-5"
MESSAGES = [
    {"role": "system", "content": "You are Director. " * 50},
    {"role": "user", "content": "What does gpt-4o cost?"},
    {"role": "assistant", "content": "About $2.50 per million input tokens."},
    {"role": "user", "content": "And gpt-4o-mini?"},
]
TOOLS = [
    {"name": "pricing", "description": "Model prices.", "parameters": {"type": "object", "properties": {}}}
]


def final(events: Any) -> LLMResponse:
    return [e for e in events if isinstance(e, LLMResponse)][-1]


def marked(block_or_message: Any) -> bool:
    if isinstance(block_or_message, dict):
        if "cache_control" in block_or_message:
            return True
        return any(marked(part) for part in block_or_message.get("content") or [] if isinstance(part, dict))
    return False


@pytest.fixture
def fake_anthropic():
    fake = FakeAnthropic()
    yield fake
    fake.close()


@pytest.mark.parametrize("stream", [True, False])
def test_the_stable_prefix_arrives_marked_for_anthropic(fake_anthropic: FakeAnthropic, stream: bool) -> None:
    fake_anthropic.script(Reply(text="About $0.15."))
    llm = make_litellm(fake_anthropic, model=MODEL)
    if stream:
        response = final(llm.chat_completions_stream(MESSAGES, tools=TOOLS))
    else:
        response = llm.chat_completions(MESSAGES, tools=TOOLS)
    assert response.ok, response.content
    body = fake_anthropic.requests[0].json
    system = body["system"]
    assert isinstance(system, list) and system[-1]["cache_control"] == {"type": "ephemeral"}
    # The conversation up to the newest message is the cached prefix of the next call.
    assert marked(body["messages"][-1])
    assert not any(marked(message) for message in body["messages"][:-1])
    assert "metadata" not in body or "session_id" not in str(body["metadata"])


def test_cached_tokens_are_counted_and_priced_at_the_cached_rate(fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.script(
        Reply(text="Fresh.", prompt_tokens=1000, completion_tokens=10),
        Reply(text="Cached.", prompt_tokens=100, cache_read_tokens=900, completion_tokens=10),
    )
    llm = make_litellm(fake_anthropic, model=MODEL)
    fresh = final(llm.chat_completions_stream(MESSAGES))
    cached = final(llm.chat_completions_stream(MESSAGES))
    assert (fresh.cached_tokens, cached.cached_tokens) == (0, 900)
    assert cached.send_tokens == 1000  # LiteLLM counts cached input in the prompt's tokens
    # Claude Sonnet's cache reads cost a tenth of fresh input: 100 + 900 * 0.1 = 190 tokens' worth.
    assert fresh.cost is not None and cached.cost is not None
    output = 10 * 15e-6
    assert cached.cost - output == pytest.approx((fresh.cost - output) * 0.19, rel=0.01)


def test_no_markers_when_switched_off_or_for_other_providers(
    fake_anthropic: FakeAnthropic, fake_openai: FakeOpenAI
) -> None:
    fake_anthropic.script(Reply(text="ok"))
    llm = make_litellm(fake_anthropic, model=MODEL, prompt_caching=False)
    assert llm.chat_completions(MESSAGES).ok
    body = fake_anthropic.requests[0].json
    assert not marked({"content": body["system"]} if isinstance(body["system"], list) else {})
    assert not any(marked(message) for message in body["messages"])

    fake_openai.script(Reply(text="ok"))
    assert make_litellm(fake_openai, model="openai/gpt-4o-mini").chat_completions(MESSAGES).ok
    assert "cache_control" not in str(fake_openai.requests[0].json)
