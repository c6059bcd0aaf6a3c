"""The engine's tool loop and history replay on each wire format LiteLLM speaks, through real HTTP.

The engine keeps one message format; the adapter converts it per provider. A turn whose tool call
and result do not survive the round trip (Anthropic's tool_use/tool_result blocks, Ollama's NDJSON
with dict arguments) would only fail here, on the second request the provider receives.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from director.agents import build_agents
from director.core.reasoning import EngineLimits, ReasoningEngine
from director.core.session import MsgStatus, OutputMessage, Session

from tests.core.conftest import EmitRecorder
from tests.core.memory_db import MemoryDB
from tests.fakes.providers import (
    FAKE_API_KEY,
    FakeAnthropic,
    FakeOllama,
    FakeOpenAI,
    FakeProvider,
    Reply,
    context_window_reply,
    make_litellm,
)

pytestmark = pytest.mark.integration

QUESTION = "What does gpt-4o cost?"
ANSWER = "GPT-4o costs $2.50 per million input tokens."


@pytest.fixture(params=["openai", "anthropic", "ollama"])
def fake(request: pytest.FixtureRequest) -> Iterator[FakeProvider]:
    server: FakeProvider = {"openai": FakeOpenAI, "anthropic": FakeAnthropic, "ollama": FakeOllama}[
        request.param
    ]()
    yield server
    server.close()


def _turn(session: Session, fake: FakeProvider, emit: EmitRecorder, text: str) -> OutputMessage:
    llm = make_litellm(fake)
    engine = ReasoningEngine(session, llm, build_agents(llm), emit, EngineLimits())
    return engine.run(session.new_input_message(text))


def test_tool_turn_and_follow_up_on_each_wire_format(
    fake: FakeProvider, db: MemoryDB, emit: EmitRecorder
) -> None:
    fake.script(
        Reply(tool_calls=[("pricing", {"models": ["gpt-4o"]})]),
        Reply(text=ANSWER),
        Reply(text="You asked about gpt-4o."),
    )
    session = Session(db, emit=emit)
    session.create(QUESTION)

    first = _turn(session, fake, emit, QUESTION)
    assert first.status == MsgStatus.SUCCESS, first.content
    assert first.agents == ["pricing"]
    assert first.content[-1].text == ANSWER
    deltas = [d["delta"] for d in emit.of("chat_delta") if d["msg_id"] == first.msg_id]
    assert "".join(deltas) == ANSWER

    # The provider got the pricing agent's JSON result back, in its own format.
    tool_result = json.dumps(fake.requests[1].json)
    assert "input_per_1m" in tool_result and "gpt-4o" in tool_result

    second = _turn(session, fake, emit, "Which model did I ask about?")
    assert second.status == MsgStatus.SUCCESS and second.content[-1].text == "You asked about gpt-4o."
    replay = json.dumps(fake.requests[2].json)
    # The earlier turn in full: question, the tool call, its result, the answer, then the new question.
    for piece in (QUESTION, "pricing", "input_per_1m", ANSWER, "Which model did I ask about?"):
        assert piece in replay, piece
    assert replay.index(QUESTION) < replay.index(ANSWER) < replay.index("Which model did I ask about?")
    assert FAKE_API_KEY not in json.dumps(emit.events)


def test_tool_call_without_arguments_replays_on_each_wire_format(
    fake: FakeProvider, db: MemoryDB, emit: EmitRecorder
) -> None:
    # Empty arguments ("") must reach the agent as {} and be replayed as a valid object: ollama_chat
    # fails on the follow-up request otherwise. pricing with no models answers with a usage hint.
    fake.script(Reply(tool_calls=[("pricing", "")]), Reply(text="Which models?"), Reply(text="Sure."))
    session = Session(db, emit=emit)
    session.create("prices")
    first = _turn(session, fake, emit, "prices")
    assert first.status == MsgStatus.SUCCESS and first.content[-1].text == "Which models?"
    second = _turn(session, fake, emit, "gpt-4o please")
    assert second.status == MsgStatus.SUCCESS and second.content[-1].text == "Sure."
    assert len(fake.requests) == 3
    # Replayed as an empty object in each format: "arguments" (OpenAI string, Ollama object) or
    # Anthropic's tool_use "input".
    (call,) = _named(fake.requests[2].json, "pricing")
    arguments = call.get("arguments", call.get("input"))
    assert arguments in ("{}", {}), call


def _named(value: object, name: str) -> list[dict]:
    """Every dict inside ``value`` whose "name" is ``name`` (a tool call, whatever its wrapping)."""
    found: list[dict] = []
    if isinstance(value, dict):
        if value.get("name") == name and ("arguments" in value or "input" in value):
            found.append(value)
        for item in value.values():
            found += _named(item, name)
    elif isinstance(value, list):
        for item in value:
            found += _named(item, name)
    return found


def test_full_context_window_drops_old_turns_then_answers(
    fake: FakeProvider, db: MemoryDB, emit: EmitRecorder
) -> None:
    # Each provider says "too long" its own way; LiteLLM maps all of them to a context-window error,
    # and the engine retries with the oldest turns left out instead of failing every turn from now on.
    fake.script(Reply(text="one"), Reply(text="two"), context_window_reply(fake.name), Reply(text="three"))
    session = Session(db, emit=emit)
    session.create("long")
    for text in ("first question", "second question"):
        assert _turn(session, fake, emit, text).status == MsgStatus.SUCCESS
    third = _turn(session, fake, emit, "third question")
    assert third.status == MsgStatus.SUCCESS and third.content[-1].text == "three"
    refused, retried = json.dumps(fake.requests[2].json), json.dumps(fake.requests[3].json)
    assert "first question" in refused and "first question" not in retried
    assert "second question" in retried and "third question" in retried
