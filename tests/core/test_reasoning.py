"""ReasoningEngine against ScriptedLLM and the in-memory DB: every path of a turn."""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

import pytest
from director.agents.base import AgentResponse, AgentStatus, BaseAgent
from director.core.reasoning import EngineLimits, ReasoningEngine
from director.core.session import BlockStatus, MsgStatus, OutputMessage, Session
from director.llm.base import LLMErrorType, LLMResponse, LLMResponseStatus, TextDelta

from tests.core.conftest import EmitRecorder
from tests.core.memory_db import MemoryDB
from tests.fakes.scripted_llm import ScriptedLLM, ScriptedStream, text_response, tool_call, tool_response


class EchoAgent(BaseAgent):
    name = "echo"
    description = "Repeats the given text."

    def run(self, text: str, times: int = 1) -> AgentResponse:
        """Echo.

        Args:
            text: What to repeat.
            times: How many times.
        """
        self.report(f"echoing {times}x")
        return AgentResponse(message=f"echoed {text}", data={"echo": text * times})


class OtherAgent(BaseAgent):
    name = "other"
    description = "Another agent."

    def run(self) -> AgentResponse:
        return AgentResponse(message="other ran")


class RendezvousAgent(BaseAgent):
    """Succeeds only if another call of it is running at the same moment (a 2-party barrier)."""

    name = "rendezvous"
    description = "Meets a twin."

    def __init__(self, barrier: threading.Barrier, **kwargs: Any):
        super().__init__(**kwargs)
        self.barrier = barrier

    def run(self, label: str) -> AgentResponse:
        try:
            self.barrier.wait()
        except threading.BrokenBarrierError:
            return AgentResponse(status=AgentStatus.ERROR, message=f"{label} ran alone")
        return AgentResponse(message=f"{label} met its twin")


class RaisingAgent(BaseAgent):
    name = "boom"
    description = "Always fails."

    def run(self) -> AgentResponse:
        raise RuntimeError("internal detail sk-should-not-leak")


class BlockingAgent(BaseAgent):
    name = "blocker"
    description = "Waits until released."

    def __init__(self, release: threading.Event, started: threading.Event | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.release = release
        self.started = started or threading.Event()

    def run(self) -> AgentResponse:
        self.started.set()
        self.release.wait(10)
        return AgentResponse(message="finally done")


def make_engine(
    session: Session, llm: ScriptedLLM, agents: list[BaseAgent], **limits: Any
) -> ReasoningEngine:
    return ReasoningEngine(session, llm, agents, session.emit, EngineLimits(**limits))


def run_turn(session: Session, llm: ScriptedLLM, agents: list[BaseAgent], text: str = "hi", **kw: Any):
    engine = make_engine(session, llm, agents, **{k: v for k, v in kw.items() if k != "agents_filter"})
    message = session.new_input_message(text, agents=kw.get("agents_filter"), client_msg_id="c1")
    return engine.run(message)


def tool_results(call_messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [json.loads(m["content"]) for m in call_messages if m["role"] == "tool"]


def assistant_block(output: OutputMessage):
    return next(b for b in output.content if b.agent_name == "assistant")


def test_plain_answer_streams_and_persists(session: Session, db: MemoryDB, emit: EmitRecorder) -> None:
    llm = ScriptedLLM(text_response("Hello there, friend."))
    output = run_turn(session, llm, [EchoAgent()], text="Say hello")

    assert output.status == MsgStatus.SUCCESS
    assert output.stopped is False
    assert output.client_msg_id == "c1"
    block = assistant_block(output)
    assert block.text == "Hello there, friend."
    assert block.status == BlockStatus.SUCCESS
    deltas = emit.of("chat_delta")
    assert len(deltas) > 1
    assert "".join(d["delta"] for d in deltas) == "Hello there, friend."
    assert {d["msg_id"] for d in deltas} == {output.msg_id}
    # The model saw a system prompt naming the agents, then the user message, and the agents as tools.
    sent = llm.calls[0]
    assert sent.stream is True
    assert sent.messages[0]["role"] == "system" and "echo" in sent.messages[0]["content"]
    assert sent.messages[-1] == {"role": "user", "content": "Say hello"}
    assert sent.tool_names == ["echo"]
    # Persisted: input first, output's final state, context.
    conv = db.get_conversations(session.session_id)
    assert [m["msg_type"] for m in conv] == ["input", "output"]
    assert conv[1] == emit.of("chat")[-1] == output.model_dump(mode="json")
    assert db.get_context_messages(session.session_id) == [
        {"role": "user", "content": "Say hello"},
        {"role": "assistant", "content": "Hello there, friend."},
    ]
    # Input message emitted once, first.
    assert emit.events[0][0] == "chat" and emit.events[0][1]["msg_type"] == "input"


def test_tool_call_runs_agent_and_feeds_json_back(session: Session, db: MemoryDB, emit: EmitRecorder) -> None:
    context_during_second_call: list[list[dict[str, Any]]] = []

    def second(messages: list[dict[str, Any]], tools: Any) -> LLMResponse:
        # Context is saved after the tool step, before the next model call (crash-safety).
        context_during_second_call.append(db.get_context_messages(session.session_id))
        return text_response("The echo said abab.")

    llm = ScriptedLLM(tool_response(tool_call("echo", {"text": "ab", "times": 2}, "call_1")), second)
    output = run_turn(session, llm, [EchoAgent()])

    assert output.status == MsgStatus.SUCCESS
    assert output.agents == ["echo"]
    assert "Running echo" in output.actions
    agent_block = next(b for b in output.content if b.agent_name == "echo")
    assert agent_block.status == BlockStatus.SUCCESS
    assert agent_block.text == "echoed ab"
    assert agent_block.data == {"echo": "abab"}
    assert assistant_block(output).text == "The echo said abab."
    # The second model call got the assistant's tool call and a JSON tool result.
    second_messages = llm.calls[1].messages
    assistant_turn = second_messages[-2]
    assert assistant_turn["role"] == "assistant"
    assert assistant_turn["tool_calls"][0]["id"] == "call_1"
    assert assistant_turn["tool_calls"][0]["tool"]["name"] == "echo"
    tool_msg = second_messages[-1]
    assert tool_msg["role"] == "tool" and tool_msg["tool_call_id"] == "call_1"
    assert json.loads(tool_msg["content"]) == {
        "status": "success",
        "message": "echoed ab",
        "data": {"echo": "abab"},
    }
    assert context_during_second_call[0][-1]["role"] == "tool"
    # The agent's progress report reached a client.
    messages = [m for m in emit.of("chat") if m["msg_type"] == "output"]
    assert any(
        b["status_message"] == "echoing 2x"
        for m in messages
        for b in m["content"]
        if b["agent_name"] == "echo"
    )


def test_parallel_tool_calls_overlap(session: Session) -> None:
    barrier = threading.Barrier(2, timeout=5)
    agent = RendezvousAgent(barrier)
    llm = ScriptedLLM(
        tool_response(
            tool_call("rendezvous", {"label": "a"}, "c_a"), tool_call("rendezvous", {"label": "b"}, "c_b")
        ),
        text_response("both met"),
    )
    output = run_turn(session, llm, [agent])

    results = tool_results(llm.calls[1].messages)
    assert [r["message"] for r in results] == ["a met its twin", "b met its twin"]
    assert [b.status for b in output.content if b.agent_name == "rendezvous"] == [BlockStatus.SUCCESS] * 2


def test_unknown_agent_is_reported_to_the_model(session: Session) -> None:
    llm = ScriptedLLM(tool_response(tool_call("nope", {}, "c1")), text_response("sorry"))
    output = run_turn(session, llm, [EchoAgent()])

    assert output.status == MsgStatus.SUCCESS
    (result,) = tool_results(llm.calls[1].messages)
    assert result["status"] == "error"
    assert "'nope' does not exist" in result["message"] and "echo" in result["message"]
    assert output.agents == []


def test_invalid_arguments_are_reported_with_errors(session: Session) -> None:
    ran = []

    class Tracking(EchoAgent):
        def run(self, text: str, times: int = 1) -> AgentResponse:
            ran.append(text)
            return super().run(text, times)

    llm = ScriptedLLM(tool_response(tool_call("echo", {"times": "many"}, "c1")), text_response("ok"))
    run_turn(session, llm, [Tracking()])

    (result,) = tool_results(llm.calls[1].messages)
    assert result["status"] == "error"
    locs = sorted(tuple(e["loc"]) for e in result["errors"])
    assert locs == [("text",), ("times",)]
    assert ran == []


def test_malformed_json_arguments_are_echoed_back(session: Session) -> None:
    llm = ScriptedLLM(tool_response(tool_call("echo", '{"text": "a",', "c1")), text_response("ok"))
    run_turn(session, llm, [EchoAgent()])

    (result,) = tool_results(llm.calls[1].messages)
    assert result["received"] == '{"text": "a",'
    assert "not a JSON object" in result["message"]


def test_agent_exception_becomes_tool_result_and_log(
    session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    llm = ScriptedLLM(tool_response(tool_call("boom", {}, "c1")), text_response("it failed"))
    with caplog.at_level(logging.ERROR):
        output = run_turn(session, llm, [RaisingAgent()])

    (result,) = tool_results(llm.calls[1].messages)
    assert result["status"] == "error" and "RuntimeError" in result["message"]
    assert "sk-should-not-leak" not in json.dumps(output.model_dump(mode="json"))
    assert "sk-should-not-leak" not in json.dumps(llm.calls[1].messages)
    # The traceback is logged (for us), with the key-shaped token masked.
    assert "Traceback" in caplog.text and "RuntimeError" in caplog.text
    assert "sk-should-not-leak" not in caplog.text
    block = next(b for b in output.content if b.agent_name == "boom")
    assert block.status == BlockStatus.ERROR
    assert output.status == MsgStatus.SUCCESS


class RefusingAgent(BaseAgent):
    name = "refuser"
    description = "Declines politely."

    def run(self) -> AgentResponse:
        return AgentResponse(
            status=AgentStatus.ERROR, message="Refused: that host is private.", data={"why": "x"}
        )


def test_failed_agent_step_says_why_in_its_one_line(session: Session) -> None:
    llm = ScriptedLLM(tool_response(tool_call("refuser", {}, "c1")), text_response("could not read it"))
    output = run_turn(session, llm, [RefusingAgent()])
    block = next(b for b in output.content if b.agent_name == "refuser")
    assert block.status == BlockStatus.ERROR
    assert block.status_message == "Refused: that host is private."  # not a bare "Failed"
    (result,) = tool_results(llm.calls[1].messages)
    assert result["status"] == "error" and result["message"] == "Refused: that host is private."


def test_agent_timeout(session: Session) -> None:
    release = threading.Event()
    llm = ScriptedLLM(tool_response(tool_call("blocker", {}, "c1")), text_response("too slow"))
    try:
        output = run_turn(session, llm, [BlockingAgent(release)], agent_timeout_s=0.2)
    finally:
        release.set()
    (result,) = tool_results(llm.calls[1].messages)
    assert "did not finish within 0.2 s" in result["message"]
    block = next(b for b in output.content if b.agent_name == "blocker")
    assert block.status == BlockStatus.ERROR
    assert assistant_block(output).text == "too slow"


def test_max_steps_ends_turn_with_explanation(session: Session) -> None:
    llm = ScriptedLLM(*(tool_response(tool_call("echo", {"text": "x"}, f"c{i}")) for i in range(5)))
    output = run_turn(session, llm, [EchoAgent()], max_steps=2)

    assert len(llm.calls) == 2
    assert output.status == MsgStatus.ERROR
    block = assistant_block(output)
    assert "2 steps" in block.text
    assert block.data == {"error_type": "max_steps"}


def test_llm_error_ends_turn_with_safe_message(session: Session, db: MemoryDB) -> None:
    error = LLMResponse(
        status=LLMResponseStatus.ERROR,
        error_type=LLMErrorType.AUTH,
        content="The provider rejected the API key. Check LITELLM_API_KEY.",
    )
    llm = ScriptedLLM(error)
    output = run_turn(session, llm, [EchoAgent()])

    assert output.status == MsgStatus.ERROR
    block = assistant_block(output)
    assert block.status == BlockStatus.ERROR
    assert block.text == "The provider rejected the API key. Check LITELLM_API_KEY."
    assert block.data == {"error_type": "auth"}
    assert db.get_conversations(session.session_id)[-1]["status"] == "error"


def test_stop_mid_stream_keeps_partial_answer(session: Session, db: MemoryDB, emit: EmitRecorder) -> None:
    first_chunk_sent = threading.Event()
    resume = threading.Event()
    closed = threading.Event()

    def events():
        try:
            yield TextDelta(text="Hello ")
            first_chunk_sent.set()
            resume.wait(5)
            yield TextDelta(text="world")
            yield text_response("Hello world")
        finally:
            closed.set()

    llm = ScriptedLLM(ScriptedStream(events))
    engine = make_engine(session, llm, [EchoAgent()])
    result: list[OutputMessage] = []
    thread = threading.Thread(target=lambda: result.append(engine.run(session.new_input_message("hi"))))
    thread.start()
    assert first_chunk_sent.wait(5)
    engine.stop()
    resume.set()
    thread.join(5)

    (output,) = result
    assert output.stopped is True
    assert output.status == MsgStatus.STOPPED and output.stop_reason == "user"
    assert assistant_block(output).text == "Hello "
    assert assistant_block(output).status == BlockStatus.STOPPED
    assert closed.is_set()  # the stream was closed, releasing the provider connection
    assert db.get_conversations(session.session_id)[-1]["stopped"] is True
    assert db.get_context_messages(session.session_id)[-1] == {"role": "assistant", "content": "Hello "}
    assert len(llm.calls) == 1


def test_stop_while_agent_runs(session: Session, db: MemoryDB) -> None:
    release, started = threading.Event(), threading.Event()
    llm = ScriptedLLM(tool_response(tool_call("blocker", {}, "c1")))
    engine = make_engine(session, llm, [BlockingAgent(release, started)])
    result: list[OutputMessage] = []
    thread = threading.Thread(target=lambda: result.append(engine.run(session.new_input_message("go"))))
    thread.start()
    try:
        assert started.wait(5)
        engine.stop()
        thread.join(5)
    finally:
        release.set()
    (output,) = result
    assert output.stopped is True
    block = next(b for b in output.content if b.agent_name == "blocker")
    assert block.status == BlockStatus.ERROR and block.status_message == "Stopped"
    # The dangling tool call still has a result, so the context replays cleanly.
    context = db.get_context_messages(session.session_id)
    assert context[-1]["role"] == "tool" and context[-1]["tool_call_id"] == "c1"
    assert len(llm.calls) == 1


def test_agents_restriction_limits_tools(session: Session) -> None:
    llm = ScriptedLLM(tool_response(tool_call("other", {}, "c1")), text_response("fine"))
    run_turn(session, llm, [EchoAgent(), OtherAgent()], agents_filter=["echo"])

    assert llm.calls[0].tool_names == ["echo"]
    assert "The user asked to use: echo" in llm.calls[0].messages[0]["content"]
    (result,) = tool_results(llm.calls[1].messages)
    assert "not available in this turn" in result["message"]


def test_context_is_replayed_on_next_turn(db: MemoryDB, emit: EmitRecorder) -> None:
    session = Session(db, emit=emit)
    session.create("first")
    llm = ScriptedLLM(
        tool_response(tool_call("echo", {"text": "z"}, "c1")),
        text_response("first answer"),
        text_response("second answer"),
    )
    run_turn(session, llm, [EchoAgent()], text="first question")
    # A new Session object over the same DB: what a server restart looks like.
    again = Session(db, session_id=session.session_id, emit=emit)
    run_turn(again, llm, [EchoAgent()], text="second question")

    replayed = llm.calls[2].messages[1:]
    assert [m["role"] for m in replayed] == ["user", "assistant", "tool", "assistant", "user"]
    assert replayed[0]["content"] == "first question"
    assert replayed[1]["tool_calls"][0]["tool"] == {"name": "echo", "arguments": {"text": "z"}}
    assert json.loads(replayed[2]["content"])["message"] == "echoed z"
    assert replayed[3]["content"] == "first answer"
    assert replayed[4]["content"] == "second question"


def test_emit_failure_does_not_break_turn(db: MemoryDB) -> None:
    def broken_emit(event: str, payload: dict[str, Any]) -> None:
        raise ConnectionError("client gone")

    session = Session(db, emit=broken_emit)
    session.create("x")
    output = run_turn(session, ScriptedLLM(text_response("still answered")), [])
    assert output.status == MsgStatus.SUCCESS
    assert db.get_conversations(session.session_id)[-1]["content"][0]["text"] == "still answered"


def test_stop_before_run_ends_immediately(session: Session) -> None:
    llm = ScriptedLLM()
    engine = make_engine(session, llm, [])
    engine.stop()
    output = engine.run(session.new_input_message("hi"))
    assert output.stopped is True and output.status == MsgStatus.STOPPED
    # Nothing was written: the answer says so rather than being blank (a blank looks like an answer).
    assert assistant_block(output).text == "Stopped before any answer was written."
    assert llm.calls == []
    # That notice is for the user, not something the model said: the context does not hold it.
    assert all(m["role"] != "assistant" for m in session.get_context_messages())


def test_context_saved_while_agents_run_is_replayable(session: Session) -> None:
    """What a crash in the middle of a turn leaves: the question, and each tool call answered as lost."""
    release, started = threading.Event(), threading.Event()
    llm = ScriptedLLM(tool_response(tool_call("blocker", {}, "c1")), text_response("done"))
    turn = threading.Thread(target=run_turn, args=(session, llm, [BlockingAgent(release, started)], "wait"))
    turn.start()
    try:
        assert started.wait(5)
        saved = session.get_context_messages()
        assert [m["role"] for m in saved] == ["user", "assistant", "tool"]
        assert saved[0]["content"] == "wait" and saved[2]["tool_call_id"] == "c1"
        assert "server stopped" in json.loads(saved[2]["content"])["message"]
    finally:
        release.set()
        turn.join(10)
    final = session.get_context_messages()
    assert json.loads(final[2]["content"])["message"] == "finally done"  # the real result replaced it
    assert [m["role"] for m in final] == ["user", "assistant", "tool", "assistant"]


def _too_long() -> LLMResponse:
    return LLMResponse(
        status=LLMResponseStatus.ERROR,
        error_type=LLMErrorType.CONTEXT_WINDOW,
        content="The conversation is too long for scripted's context window.",
    )


HISTORY = [
    {"role": "user", "content": "turn 1"},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": "t1", "type": "function", "tool": {"name": "other", "arguments": {}}}],
    },
    {"role": "tool", "tool_call_id": "t1", "content": "{}"},
    {"role": "assistant", "content": "answer 1"},
    {"role": "user", "content": "turn 2"},
    {"role": "assistant", "content": "answer 2"},
    {"role": "user", "content": "turn 3"},
    {"role": "assistant", "content": "answer 3"},
]


def test_full_context_window_drops_oldest_turns_and_answers(session: Session) -> None:
    session.save_context_messages(HISTORY)
    llm = ScriptedLLM(_too_long(), _too_long(), text_response("fits now"))
    output = run_turn(session, llm, [], "turn 4")
    assert output.status == MsgStatus.SUCCESS and assistant_block(output).text == "fits now"
    sent = [[m.get("content") for m in call.messages if m["role"] == "user"] for call in llm.calls]
    # Whole turns go, oldest first, halving what is older than the current question each time.
    assert sent == [
        ["turn 1", "turn 2", "turn 3", "turn 4"],
        ["turn 2", "turn 3", "turn 4"],
        ["turn 3", "turn 4"],
    ]
    assert any("oldest messages out of the model's context" in action for action in output.actions)
    # Every call's history starts at a question: never an orphaned tool result or reply.
    assert all(call.messages[1]["role"] == "user" for call in llm.calls)
    # The trimmed context is what the next turn starts from; the conversation the user sees is intact.
    assert [m["content"] for m in session.get_context_messages()] == [
        "turn 3",
        "answer 3",
        "turn 4",
        "fits now",
    ]


def test_current_turn_alone_too_long_ends_with_the_advice(session: Session) -> None:
    llm = ScriptedLLM(_too_long())
    output = run_turn(session, llm, [], "a very long paste")
    assert output.status == MsgStatus.ERROR and len(llm.calls) == 1
    assert "too long" in assistant_block(output).text


def test_turn_usage_adds_up_the_model_calls(session: Session, db: MemoryDB) -> None:
    call = tool_response(tool_call("other", {}, "c1"))
    call.send_tokens, call.recv_tokens, call.cost, call.model = 100, 20, 0.002, "openai/gpt-4o"
    answer = text_response("done")
    answer.send_tokens, answer.recv_tokens, answer.cost, answer.model = 150, 30, 0.003, "openai/gpt-4o"
    output = run_turn(session, ScriptedLLM(call, answer), [OtherAgent()])
    usage = output.usage
    assert (usage.llm_calls, usage.input_tokens, usage.output_tokens) == (2, 250, 50)
    assert usage.cost_usd == pytest.approx(0.005) and usage.model == "openai/gpt-4o"
    stored = db.get_conversations(session.session_id)[-1]
    assert stored["usage"]["input_tokens"] == 250  # persisted and sent with the message


def test_usage_cost_unknown_stays_none(session: Session) -> None:
    output = run_turn(session, ScriptedLLM(text_response("hi")), [])
    assert output.usage.cost_usd is None and output.usage.input_tokens == 10


def test_asking_again_after_a_failed_turn_sends_the_question_once(session: Session) -> None:
    failed = LLMResponse(status=LLMResponseStatus.ERROR, error_type=LLMErrorType.AUTH, content="bad key")
    llm = ScriptedLLM(failed, text_response("hello"), text_response("bye"))
    assert run_turn(session, llm, [], "Hello?").status == MsgStatus.ERROR
    assert run_turn(session, llm, [], "Hello?").status == MsgStatus.SUCCESS
    assert [m["content"] for m in llm.calls[1].messages if m["role"] == "user"] == ["Hello?"]
    # A question repeated after an answer is a new question and is kept twice.
    run_turn(session, llm, [], "Hello?")
    assert [m["content"] for m in llm.calls[2].messages if m["role"] == "user"] == ["Hello?", "Hello?"]


class CountingAgent(BaseAgent):
    name = "counter"
    description = "Calls a model of its own."

    def run(self) -> AgentResponse:
        self.record_usage(LLMResponse(model="other/model", send_tokens=7, recv_tokens=3, cost=0.01))
        return AgentResponse(message="counted")


def test_agents_own_model_calls_count_in_the_turn_usage(session: Session) -> None:
    call = tool_response(tool_call("counter", {}, "c1"))
    call.model = "scripted"
    output = run_turn(session, ScriptedLLM(call, text_response("done")), [CountingAgent()])
    usage = output.usage
    assert (usage.llm_calls, usage.input_tokens, usage.output_tokens) == (3, 17, 8)
    assert usage.cost_usd == pytest.approx(0.01)
    assert usage.model == "scripted"  # the turn's model, not the agent's


def test_finishing_is_set_before_the_final_state_is_sent(session: Session) -> None:
    """A client may answer the final state at once: the turn must already count as finishing when
    that state is sent (the turn registry then waits for its release instead of refusing)."""
    engine = make_engine(session, ScriptedLLM(text_response("Done.")), [EchoAgent()])
    seen_when_sent: list[bool] = []
    emit = session.emit

    def watching(event: str, payload: dict[str, Any]) -> None:
        if event == "chat" and payload["msg_type"] == "output" and payload["status"] != "progress":
            seen_when_sent.append(engine.finishing)
        emit(event, payload)

    session.emit = watching
    assert not engine.finishing
    engine.run(session.new_input_message("hi", client_msg_id="c1"))
    assert seen_when_sent == [True] and engine.finishing and engine.finished
