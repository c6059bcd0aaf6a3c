"""The engine through the real LiteLLM adapter, making real HTTP calls to the fake OpenAI server."""

from __future__ import annotations

import json

import pytest
from director.agents import build_agents
from director.core.reasoning import EngineLimits, ReasoningEngine
from director.core.session import MsgStatus, Session

from tests.core.conftest import EmitRecorder
from tests.core.memory_db import MemoryDB
from tests.fakes.providers import (
    DEFAULT_COMPLETION_TOKENS,
    DEFAULT_PROMPT_TOKENS,
    FAKE_API_KEY,
    FakeOpenAI,
    Reply,
    make_litellm,
)

pytestmark = pytest.mark.integration


def test_tool_turn_then_follow_up_replays_history(
    fake_openai: FakeOpenAI, db: MemoryDB, emit: EmitRecorder
) -> None:
    fake_openai.script(
        Reply(tool_calls=[("pricing", {"models": ["gpt-4o"]})]),
        Reply(text="GPT-4o costs $2.50 per million input tokens."),
        Reply(text="You asked about gpt-4o."),
    )
    llm = make_litellm(fake_openai)
    session = Session(db, emit=emit)
    session.create("price?")

    def turn(text: str):
        engine = ReasoningEngine(session, llm, build_agents(llm), emit, EngineLimits())
        return engine.run(session.new_input_message(text))

    first = turn("What does gpt-4o cost?")
    assert first.status == MsgStatus.SUCCESS
    # Usage as the provider reported it, for both calls of the turn (the fake model has no price).
    assert (first.usage.llm_calls, first.usage.model) == (2, "openai/fake-model")
    assert first.usage.input_tokens == 2 * DEFAULT_PROMPT_TOKENS
    assert first.usage.output_tokens == 2 * DEFAULT_COMPLETION_TOKENS
    assert first.usage.cost_usd is None
    assert first.agents == ["pricing"]
    assert first.content[-1].text == "GPT-4o costs $2.50 per million input tokens."
    # Deltas streamed over the real SSE path add up to the answer.
    deltas = [d["delta"] for d in emit.of("chat_delta") if d["msg_id"] == first.msg_id]
    assert "".join(deltas) == first.content[-1].text

    second_request = fake_openai.requests[1].json
    assert {t["function"]["name"] for t in second_request["tools"]} == {
        "web_reader",
        "pricing",
        "compare_models",
        "summarize",
    }
    tool_msg = second_request["messages"][-1]
    assert tool_msg["role"] == "tool"
    result = json.loads(tool_msg["content"])
    assert result["status"] == "success" and result["data"]["models"][0]["input_per_1m"] > 0

    turn("Which model did I ask about?")
    replay = fake_openai.requests[2].json["messages"]
    roles = [m["role"] for m in replay]
    assert roles == ["system", "user", "assistant", "tool", "assistant", "user"]
    assert replay[2]["tool_calls"][0]["function"]["name"] == "pricing"
    assert replay[3]["tool_call_id"] == replay[2]["tool_calls"][0]["id"]
    # No secret in anything a client saw.
    assert FAKE_API_KEY not in json.dumps(emit.events)
