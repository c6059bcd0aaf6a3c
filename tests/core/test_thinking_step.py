"""The model's reasoning text: shown as a "Thinking" step, never sent back to a provider."""

from __future__ import annotations

from director.core.reasoning import THINKING, EngineLimits, ReasoningEngine
from director.core.session import BlockStatus, MsgStatus, Session
from director.llm.base import LLMResponse
from director.llm.conversion import StreamAccumulator, raw_from_response, to_llm_response

from tests.fakes.scripted_llm import ScriptedLLM


def test_reasoning_is_read_from_whole_and_streamed_responses() -> None:
    whole = raw_from_response(
        {"choices": [{"message": {"content": "4", "reasoning_content": "2+2 is 4"}, "finish_reason": "stop"}]}
    )
    assert to_llm_response(whole, "m", None, 1.0).reasoning == "2+2 is 4"
    acc = StreamAccumulator()
    texts = [
        acc.add({"choices": [{"delta": {"reasoning_content": "First, "}}]})[0],
        acc.add({"choices": [{"delta": {"reasoning_content": "add."}}]})[0],
        acc.add({"choices": [{"delta": {"content": "4"}, "finish_reason": "stop"}]})[0],
    ]
    assert texts == ["", "", "4"]  # the reasoning is not part of the answer's text
    assert to_llm_response(acc.result(), "m", None, 1.0).reasoning == "First, add."
    assert to_llm_response(raw_from_response({"choices": []}), "m", None, 1.0).reasoning is None


def test_thinking_is_a_step_and_stays_out_of_the_context(db, emit) -> None:
    llm = ScriptedLLM(
        LLMResponse(content="It is 4.", reasoning="Adding two and two gives four.", model="m"),
        LLMResponse(content="Yes.", model="m"),
    )
    session = Session(db, emit=emit)
    session.create("sum")

    def turn(text: str):
        engine = ReasoningEngine(session, llm, [], emit, EngineLimits())
        return engine.run(session.new_input_message(text))

    first = turn("What is 2+2?")
    assert first.status == MsgStatus.SUCCESS
    thinking = [b for b in first.content if b.agent_name == THINKING]
    assert len(thinking) == 1 and thinking[0].text == "Adding two and two gives four."
    assert thinking[0].status == BlockStatus.SUCCESS and thinking[0].status_message == "Thinking"
    assert first.assistant_block().text == "It is 4."
    stored = db.get_conversations(session.session_id)[-1]
    assert any(b["agent_name"] == THINKING for b in stored["content"])  # shown after a reload

    turn("Sure?")
    replayed = str(llm.calls[1].messages)
    assert "It is 4." in replayed and "Adding two and two" not in replayed
