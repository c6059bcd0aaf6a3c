"""A model that cannot call tools (LiteLLM's map says ``supports_function_calling: false``) still
answers: the turn runs without agents, and its steps say so. Through the real adapter and a fake
OpenAI-compatible server."""

from __future__ import annotations

import pytest
from director.agents import build_agents
from director.core.reasoning import AGENTS_UNAVAILABLE_TEXT, EngineLimits, ReasoningEngine
from director.core.session import MsgStatus, Session

from tests.core.conftest import EmitRecorder
from tests.core.memory_db import MemoryDB
from tests.fakes.providers import FakeOpenAI, Reply, make_litellm

pytestmark = pytest.mark.integration


def _turn(llm, db: MemoryDB, emit: EmitRecorder, text: str):
    session = Session(db, emit=emit)
    session.create(text)
    engine = ReasoningEngine(session, llm, build_agents(llm), emit, EngineLimits())
    return engine.run(session.new_input_message(text))


def test_a_model_without_tools_answers_without_agents(fake_openai: FakeOpenAI, db: MemoryDB, emit) -> None:
    llm = make_litellm(fake_openai, model="deepseek/deepseek-reasoner")  # the map: no function calling
    assert llm.supports_tools is False
    fake_openai.script(Reply(text="Answered from what I know."))
    output = _turn(llm, db, emit, "What does gpt-4o cost?")

    assert output.status == MsgStatus.SUCCESS and output.content[-1].text == "Answered from what I know."
    assert AGENTS_UNAVAILABLE_TEXT in output.actions
    sent = fake_openai.requests[0].json
    assert "tools" not in sent and "tool_choice" not in sent


def test_a_model_with_tools_keeps_its_agents(fake_openai: FakeOpenAI, db: MemoryDB, emit) -> None:
    llm = make_litellm(fake_openai, model="openai/fake-model")  # unmapped: assumed able
    assert llm.supports_tools is True
    fake_openai.script(Reply(text="ok"))
    output = _turn(llm, db, emit, "hi")
    assert AGENTS_UNAVAILABLE_TEXT not in output.actions
    assert fake_openai.requests[0].json["tools"]
