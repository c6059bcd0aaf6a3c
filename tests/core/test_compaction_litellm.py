"""Compaction through the real LiteLLM adapter, over real HTTP to the fake providers, with a small
LITELLM_MAX_INPUT_TOKENS: what the provider receives after compaction, and what is stored."""

from __future__ import annotations

from pathlib import Path

import pytest
from director.core.compaction import COMPACTION, SUMMARY_KEY, SUMMARY_PROMPT
from director.core.reasoning import EngineLimits, ReasoningEngine
from director.core.session import MsgStatus, OutputMessage, Session
from director.db.sqlite import SQLiteDB

from tests.core.conftest import EmitRecorder
from tests.fakes.providers import FakeOllama, FakeOpenAI, FakeProvider, RecordedRequest, Reply, make_litellm

pytestmark = pytest.mark.integration

FIRST_SUMMARY = "SUMMARY-1: the user described projects alpha to gamma."
SECOND_SUMMARY = "SUMMARY-2: projects alpha to gamma, then delta to zeta."
FILLER = " ".join(["apple"] * 120)  # ~130 tokens a question: a few turns fill a 700-token window


def is_summary_request(req: RecordedRequest) -> bool:
    messages = (req.json or {}).get("messages") or []
    return bool(messages) and messages[0].get("content") == SUMMARY_PROMPT


def messages_of(req: RecordedRequest) -> list[dict]:
    """The request's messages (OpenAI's and Ollama's bodies both carry them)."""
    return (req.json or {}).get("messages") or []


def text_of(req: RecordedRequest) -> str:
    return "\n".join(str(m.get("content")) for m in messages_of(req))


def answer_or_summarize(fake: FakeProvider) -> None:
    summaries = iter([FIRST_SUMMARY, SECOND_SUMMARY])
    fake.responder = lambda req: Reply(
        text=next(summaries, "SUMMARY-MORE") if is_summary_request(req) else "Noted."
    )


@pytest.fixture
def db(tmp_path: Path):
    db = SQLiteDB(str(tmp_path / "director.db"))
    yield db
    db.close()


def run_turn(session: Session, llm, emit: EmitRecorder, text: str) -> OutputMessage:
    engine = ReasoningEngine(session, llm, [], emit, EngineLimits())
    input_message = session.new_input_message(text)
    session.save_message(input_message.model_dump(mode="json"))  # as the server does before the turn
    output = engine.run(input_message, input_saved=True)
    assert output.status == MsgStatus.SUCCESS, output.content[-1].text
    return output


def test_the_provider_gets_the_summary_instead_of_the_old_turns_and_later_turns_reuse_it(
    fake_openai: FakeOpenAI, db: SQLiteDB, emit: EmitRecorder
) -> None:
    answer_or_summarize(fake_openai)
    llm = make_litellm(fake_openai, max_input_tokens=700)
    session = Session(db, emit=emit)
    session.create("projects")
    names = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta"]
    outputs = [run_turn(session, llm, emit, f"PROJECT-{name.upper()} {FILLER}") for name in names]

    summaries = [i for i, req in enumerate(fake_openai.requests) if is_summary_request(req)]
    assert len(summaries) == 2, "one summary, reused by the next turns, then extended once"
    first, second = summaries
    # The summary call saw the old turns; the request after it carries the summary and not them.
    assert "PROJECT-ALPHA" in text_of(fake_openai.requests[first])
    after = messages_of(fake_openai.requests[first + 1])
    assert after[0]["role"] == "system" and after[0]["content"] != SUMMARY_PROMPT
    assert FIRST_SUMMARY in after[1]["content"] and SUMMARY_KEY not in after[1]
    assert "PROJECT-ALPHA" not in text_of(fake_openai.requests[first + 1])
    assert after[-1]["content"].startswith("PROJECT-")
    # The turns in between reused it without asking again.
    for req in fake_openai.requests[first + 1 : second]:
        assert FIRST_SUMMARY in text_of(req) and "PROJECT-ALPHA" not in text_of(req)
    # The extension was given the summary so far, not the turns it already covered.
    extension = text_of(fake_openai.requests[second])
    assert FIRST_SUMMARY in extension and "PROJECT-ALPHA" not in extension
    last = text_of(fake_openai.requests[-1])
    assert SECOND_SUMMARY in last and FIRST_SUMMARY not in last and "PROJECT-ETA" in last
    # The answers' steps said so; the summaries are stored by the id of the last input they cover.
    said = [o for o in outputs if any("Summarized the" in a for a in o.actions)]
    assert len(said) == 2
    steps = [b for o in said for b in o.content if b.agent_name == COMPACTION]
    assert [b.data["summary"] for b in steps] == [FIRST_SUMMARY, SECOND_SUMMARY]
    rows = db.get_context_summaries(session.session_id)
    assert [r["summary"] for r in rows] == [SECOND_SUMMARY, FIRST_SUMMARY]
    inputs = [m for m in db.get_conversations(session.session_id) if m["msg_type"] == "input"]
    covered_inputs = {m["msg_id"]: m["content"][0]["text"].split()[0] for m in inputs}
    assert covered_inputs[rows[1]["through_msg_id"]] in {f"PROJECT-{n.upper()}" for n in names[:4]}
    # The summary calls were metered like any other: each turn's usage counts them.
    assert sum(o.usage.llm_calls for o in outputs) == len(fake_openai.requests)


def test_ollama_with_a_context_too_short_is_never_sent_a_cut_prompt(
    fake_ollama: FakeOllama, db: SQLiteDB, emit: EmitRecorder
) -> None:
    answer_or_summarize(fake_ollama)
    # Ollama cuts a prompt longer than num_ctx silently: LITELLM_MAX_INPUT_TOKENS declares num_ctx.
    llm = make_litellm(fake_ollama, max_input_tokens=400, extra_params={"num_ctx": 400})
    session = Session(db, emit=emit)
    session.create("projects")
    for name in ["alpha", "beta", "gamma"]:
        run_turn(session, llm, emit, f"PROJECT-{name.upper()} {FILLER}")
    # Compacted, and the step said so: every prompt sent fits the declared window.
    assert any(is_summary_request(req) for req in fake_ollama.requests)
    for req in fake_ollama.requests:
        assert llm.count_input_tokens(messages_of(req), None) <= 400

    # A message longer than the whole window: refused with a clear error, nothing sent.
    sent = len(fake_ollama.requests)
    engine = ReasoningEngine(session, llm, [], emit, EngineLimits())
    output = engine.run(session.new_input_message("LONG " + FILLER * 5))
    assert output.status == MsgStatus.ERROR
    block = output.content[-1]
    assert block.data["error_type"] == "context_window"
    assert "LITELLM_MAX_INPUT_TOKENS" in block.text and "num_ctx" in block.text
    assert all(not req.json or "LONG" not in text_of(req) for req in fake_ollama.requests[sent:])
