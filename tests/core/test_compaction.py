"""Compaction (core/compaction.py): where the context is cut, what the summary replaces, and how a stored
summary is reused and extended. A scripted LLM with a small window counts one token per character."""

from __future__ import annotations

import json
from typing import Any

from director.core.compaction import (
    COMPACTION,
    SUMMARY_KEY,
    SUMMARY_PROMPT,
    Compactor,
    digest_of,
    input_id_of_turn,
    summary_message,
)
from director.core.reasoning import EngineLimits, ReasoningEngine
from director.core.session import MsgStatus, Session
from director.llm.base import LLMErrorType, LLMResponse, LLMResponseStatus

from tests.core.conftest import EmitRecorder
from tests.core.memory_db import MemoryDB
from tests.fakes.scripted_llm import ScriptedLLM, text_response


class WindowLLM(ScriptedLLM):
    """A model with ``limit`` input tokens, one token per character of content (tool calls: 20)."""

    def __init__(self, *responses: Any, limit: int | None, declared: bool = False):
        super().__init__(*responses)
        self.limit = limit
        self.declared = declared

    @property
    def max_input_tokens(self) -> int | None:
        return self.limit

    @property
    def max_input_tokens_declared(self) -> bool:
        return self.declared

    def count_input_tokens(self, messages, tools) -> int:
        content = sum(
            len(str(m.get("content") or "")) + 20 * len(m.get("tool_calls") or []) for m in messages
        )
        return content + 100 * len(tools or [])


def turn(n: int, size: int = 100, tool: bool = False) -> list[dict[str, Any]]:
    """One finished turn: a question (``size`` characters), optionally a tool call and its result, an answer."""
    messages: list[dict[str, Any]] = [{"role": "user", "content": f"q{n} " + "x" * (size - 3)}]
    if tool:
        call = {"id": f"call{n}", "type": "function", "tool": {"name": "pricing", "arguments": {"n": n}}}
        messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        messages.append({"role": "tool", "tool_call_id": f"call{n}", "content": f"result {n}"})
    messages.append({"role": "assistant", "content": f"a{n}"})
    return messages


SYSTEM = {"role": "system", "content": "You are Director."}


def summary_reply(text: str = "They talked about prices.", answer: str = "Fine.") -> list[Any]:
    """Replies for a few calls: the summary to a summary call (a small window may take several), else
    ``answer``."""

    def reply(messages: list[dict[str, Any]], tools: Any) -> LLMResponse:
        return text_response(text if messages[0]["content"] == SUMMARY_PROMPT else answer)

    return [reply] * 10


def summary_prompts(llm: WindowLLM) -> str:
    """What the summary calls were given (a small window may take several)."""
    return "\n".join(
        c.messages[-1]["content"] for c in llm.calls if c.messages[0]["content"] == SUMMARY_PROMPT
    )


def tool_pairs_intact(context: list[dict[str, Any]]) -> bool:
    calls = {c["id"] for m in context for c in m.get("tool_calls") or []}
    results = {m["tool_call_id"] for m in context if m.get("role") == "tool"}
    return calls == results


def compactor(llm: WindowLLM, db: MemoryDB, session_id: str = "s1") -> Compactor:
    if db.get_session(session_id) is None:
        db.create_session(session_id)
    return Compactor(llm, Session(db, session_id), compact_at=0.85)


class FakeOutput:
    def __init__(self) -> None:
        self.actions: list[str] = []
        self.blocks: list[Any] = []
        self.pushes = 0

    def add_action(self, action: str) -> None:
        self.actions.append(action)

    def push_update(self) -> None:
        self.pushes += 1

    def add_usage(self, *figures: Any) -> None:
        self.pushes += 0

    def add_block(self, block: Any) -> Any:
        self.blocks.append(block)
        return block


def test_the_oldest_whole_turns_go_and_tool_pairs_and_the_current_turn_stay() -> None:
    db = MemoryDB()
    context = (
        turn(1, tool=True) + turn(2, tool=True) + turn(3, tool=True) + [{"role": "user", "content": "now?"}]
    )
    current = context[-1]
    llm = WindowLLM(*summary_reply(), limit=400)
    output = FakeOutput()
    assert compactor(llm, db).fit(output, SYSTEM, context, None) is None
    head = context[0]
    assert head["role"] == "user" and SUMMARY_KEY in head and "They talked about prices." in head["content"]
    # Only whole turns went: what follows the summary starts with a question, every call has its result.
    assert context[1]["role"] == "user" and SUMMARY_KEY not in context[1]
    assert tool_pairs_intact(context)
    assert context[-1] == current
    assert any("Summarized the" in a for a in output.actions)
    (step,) = output.blocks  # the step the user sees, with what now stands for those messages
    assert step.agent_name == COMPACTION and step.status == "success" and "Summarized the" in step.text
    assert step.data["summary"] == "They talked about prices." and step.data["messages"] > 0
    # The summary call saw the old turns' text, tool calls and results, and not the current question.
    prompt = summary_prompts(llm)
    assert "q1" in prompt and "called the tool pricing" in prompt and "result 1" in prompt
    assert "now?" not in prompt
    # Under the threshold now, with margin.
    assert llm.count_input_tokens([SYSTEM, *context], None) <= 0.85 * 400


def test_under_the_threshold_or_with_an_unknown_window_nothing_changes() -> None:
    db = MemoryDB()
    context = turn(1) + [{"role": "user", "content": "now?"}]
    for llm in (WindowLLM(limit=10_000), WindowLLM(limit=None)):
        before = json.loads(json.dumps(context))
        assert compactor(llm, db).fit(FakeOutput(), SYSTEM, context, None) is None
        assert context == before and llm.calls == []


def test_the_tools_count_too() -> None:
    db = MemoryDB()
    context = turn(1) + turn(2) + [{"role": "user", "content": "now?"}]
    tools = [{"name": f"agent{n}", "description": "", "parameters": {}} for n in range(2)]
    assert compactor(WindowLLM(limit=400), db).fit(FakeOutput(), SYSTEM, context, None) is None
    assert SUMMARY_KEY not in context[0]  # ~230 tokens: under 85% of 400
    llm = WindowLLM(*summary_reply(), limit=400)
    compactor(llm, db).fit(FakeOutput(), SYSTEM, context, tools)  # +200 for the tools: over
    assert SUMMARY_KEY in context[0] and llm.calls[0].tools is None  # the summary call offers no tools


def test_a_failed_summary_call_leaves_the_context_as_it_was() -> None:
    db = MemoryDB()
    context = turn(1) + turn(2) + turn(3) + [{"role": "user", "content": "now?"}]
    before = json.loads(json.dumps(context))
    failed = LLMResponse(status=LLMResponseStatus.ERROR, error_type=LLMErrorType.SERVER, content="down")
    llm = WindowLLM(failed, limit=300)
    output = FakeOutput()
    compactor_ = compactor(llm, db)
    assert compactor_.fit(output, SYSTEM, context, None) is None
    assert (
        context == before and output.actions == output.blocks == [] and db.get_context_summaries("s1") == []
    )
    # The turn's next steps do not ask again.
    assert compactor_.fit(output, SYSTEM, context, None) is None and len(llm.calls) == 1


def test_the_summary_is_stored_by_the_id_of_the_last_input_it_covers_and_reused_without_a_call() -> None:
    db = MemoryDB()
    db.create_session("s1")
    questions = [turn(n)[0]["content"] for n in (1, 2, 3)]
    for n, text in enumerate(questions, 1):
        db.add_or_update_msg_to_conv(_input("s1", f"in{n}", text))
    full = turn(1) + turn(2) + turn(3) + [{"role": "user", "content": "now?"}]
    context = json.loads(json.dumps(full))
    compactor(WindowLLM(*summary_reply(), limit=350), db).fit(FakeOutput(), SYSTEM, context, None)
    (row,) = db.get_context_summaries("s1")
    covered = row["covered"]
    # The row names the input whose turn the summary ends with, and the exact messages it stands for.
    last_covered_question = next(m for m in reversed(full[:covered]) if m["role"] == "user")
    assert row["through_msg_id"] == f"in{questions.index(last_covered_question['content']) + 1}"
    assert row["digest"] == digest_of(full[:covered])

    # A context rebuilt from the conversation (another branch's view, a reload) gets it back, no call made.
    rebuilt = json.loads(json.dumps(full))
    llm = WindowLLM(limit=350)
    output = FakeOutput()
    compactor(llm, db).fit(output, SYSTEM, rebuilt, None)
    assert llm.calls == []
    assert rebuilt == context
    assert any("stored summary" in a for a in output.actions)

    # Different messages in that place (another branch): not reused.
    other = json.loads(json.dumps(full))
    other[0]["content"] = "q1 something else" + "x" * 90
    llm = WindowLLM(*summary_reply("Another story."), limit=350)
    compactor(llm, db).fit(FakeOutput(), SYSTEM, other, None)
    assert llm.calls and "Another story." in other[0]["content"]


def test_an_existing_summary_is_extended_when_more_turns_must_go() -> None:
    db = MemoryDB()
    originals = turn(1) + turn(2)
    first = summary_message("Earlier: prices.", "in2", len(originals), digest_of(originals))
    newer = turn(3) + turn(4) + turn(5)
    context = [first, *json.loads(json.dumps(newer)), {"role": "user", "content": "now?"}]
    llm = WindowLLM(*summary_reply("Earlier: prices, then more."), limit=400)
    compactor(llm, db).fit(FakeOutput(), SYSTEM, context, None)
    # Given the old summary to extend, not the turns it already covers.
    prompt = summary_prompts(llm)
    assert llm.calls[0].messages[-1]["content"].startswith("Summary so far:\nEarlier: prices.")
    assert "Earlier: prices." in prompt and "q3" in prompt and "q1" not in prompt
    marker = context[0][SUMMARY_KEY]
    assert "Earlier: prices, then more." in context[0]["content"]
    extended = marker["covered"] - len(originals)
    assert extended > 0 and context[1]["role"] == "user"
    # The digest of the extension is that of all the original messages it stands for.
    assert marker["digest"] == digest_of(originals + newer[:extended])


def test_a_question_asked_again_after_a_failed_turn_does_not_shift_the_ids() -> None:
    context = (
        turn(1) + [{"role": "user", "content": "retry me"}] + turn(3) + [{"role": "user", "content": "now?"}]
    )
    inputs = [("in1", context[0]["content"]), ("in2a", "retry me"), ("in2b", "retry me")]
    inputs += [("in3", turn(3)[0]["content"]), ("in4", "now?")]
    assert input_id_of_turn(context, 2, inputs) == "in2b"
    assert input_id_of_turn(context, 0, inputs) == "in1"
    assert input_id_of_turn(context, len(context) - 1, inputs) == "in4"


def test_the_engine_sends_the_system_prompt_then_the_summary_and_says_so(
    db: MemoryDB, emit: EmitRecorder
) -> None:
    session = Session(db, emit=emit)
    session.create("hi")
    session.save_context_messages(turn(1, tool=True) + turn(2, tool=True) + turn(3, tool=True))
    llm = WindowLLM(*summary_reply(), limit=400)
    engine = ReasoningEngine(session, llm, [], emit, EngineLimits())
    output = engine.run(session.new_input_message("and now?"))
    assert output.status == MsgStatus.SUCCESS
    sent = llm.calls[-1].messages
    assert sent[0]["role"] == "system" and sent[0]["content"] != SYSTEM["content"]
    assert SUMMARY_KEY in sent[1] and sent[-1]["content"] == "and now?"
    assert tool_pairs_intact(sent)
    assert any("Summarized the" in a for a in output.actions)
    # The saved context is the compacted one: the next turn starts from the summary.
    saved = db.get_context_messages(session.session_id)
    assert SUMMARY_KEY in saved[0] and saved[-1] == {"role": "assistant", "content": "Fine."}


def test_over_a_declared_window_nothing_is_sent_and_the_turn_says_why(
    db: MemoryDB, emit: EmitRecorder
) -> None:
    session = Session(db, emit=emit)
    session.create("hi")
    llm = WindowLLM(limit=50, declared=True)
    engine = ReasoningEngine(session, llm, [], emit, EngineLimits())
    output = engine.run(session.new_input_message("x" * 400))
    assert llm.calls == []  # never sent: a server like Ollama would have cut it silently
    assert output.status == MsgStatus.ERROR
    block = output.content[-1]
    assert (
        block.data["error_type"] == "context_window" and block.data["setting"] == "LITELLM_MAX_INPUT_TOKENS"
    )
    assert output.usage.llm_calls == 0


def _input(session_id: str, msg_id: str, text: str) -> dict[str, Any]:
    return {
        "session_id": session_id,
        "conv_id": "c",
        "msg_id": msg_id,
        "msg_type": "input",
        "content": [{"type": "text", "text": text}],
    }
