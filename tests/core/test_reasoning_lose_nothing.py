"""What a turn saves when it cannot end normally: stopped from another thread at shutdown, or on a
full disk. The rule under test: what a client is finally sent is what is stored, or it says it was not
saved."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from director.core.branches import BranchTurn
from director.core.reasoning import NOTHING_WRITTEN_TEXT, EngineLimits, ReasoningEngine
from director.core.session import BlockStatus, MsgStatus, OutputMessage, Session, StopReason
from director.errors import StorageFullError
from director.llm.base import TextDelta

from tests.core.conftest import EmitRecorder
from tests.core.memory_db import MemoryDB
from tests.fakes.scripted_llm import ScriptedLLM, ScriptedStream, text_response


class FullDiskDB(MemoryDB):
    """Refuses message writes (as a full disk does) while ``full`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.full = threading.Event()

    def add_or_update_msg_to_conv(self, message: dict[str, Any]) -> None:
        if self.full.is_set():
            raise StorageFullError("memory")
        super().add_or_update_msg_to_conv(message)


def answer(message: dict[str, Any]) -> dict[str, Any]:
    return next(b for b in message["content"] if b["agent_name"] == "assistant")


def blocked_stream(first_sent: threading.Event, resume: threading.Event) -> ScriptedStream:
    """A stream that sends one chunk, then waits (a provider between chunks) until ``resume``."""

    def events():
        yield TextDelta(text="Half an ")
        first_sent.set()
        resume.wait(10)
        yield TextDelta(text="answer, and more")
        yield text_response("Half an answer, and more")

    return ScriptedStream(events)


def start_turn(session: Session, llm: ScriptedLLM) -> tuple[ReasoningEngine, threading.Thread]:
    engine = ReasoningEngine(session, llm, [], session.emit, EngineLimits())
    thread = threading.Thread(target=engine.run, args=(session.new_input_message("question"),))
    thread.start()
    return engine, thread


def test_stop_and_save_finishes_a_turn_blocked_in_the_provider(
    session: Session, db: MemoryDB, emit: EmitRecorder
) -> None:
    """Shutdown cannot wait for the provider's next chunk: the turn is saved from the drain's thread,
    as the client last saw it, and the turn's own thread writes and sends nothing afterwards."""
    first_sent, resume = threading.Event(), threading.Event()
    engine, thread = start_turn(session, ScriptedLLM(blocked_stream(first_sent, resume)))
    try:
        assert first_sent.wait(5)
        assert engine.stop_and_save(StopReason.SHUTDOWN) is True
        assert engine.finished
        sent_final = emit.of("chat")[-1]
        stored_final = db.get_conversations(session.session_id)[-1]
        assert stored_final == sent_final
        assert sent_final["status"] == MsgStatus.STOPPED and sent_final["stop_reason"] == "shutdown"
        assert (
            answer(sent_final)["text"] == "Half an " and answer(sent_final)["status"] == BlockStatus.STOPPED
        )
        assert "server was shutting down" in answer(sent_final)["status_message"]
        # The next turn's model knows what was already said.
        assert session.get_context_messages()[-1] == {"role": "assistant", "content": "Half an "}
        writes, events = len(db.writes), len(emit.events)
    finally:
        resume.set()
        thread.join(10)
    assert not thread.is_alive()
    assert len(db.writes) == writes and len(emit.events) == events  # nothing after the final state
    assert db.get_conversations(session.session_id)[-1] == sent_final
    assert engine.stop_and_save() is False  # already finished: a second save changes nothing


def test_stop_and_save_after_a_normal_end_changes_nothing(session: Session, db: MemoryDB) -> None:
    engine = ReasoningEngine(session, ScriptedLLM(text_response("Done.")), [], session.emit)
    output = engine.run(session.new_input_message("q"))
    assert output.status == MsgStatus.SUCCESS
    assert engine.stop_and_save() is False
    assert db.get_conversations(session.session_id)[-1]["status"] == "success"


def test_full_disk_mid_turn_tells_the_client_it_was_not_saved(db: MemoryDB, emit: EmitRecorder) -> None:
    full_db = FullDiskDB()
    session = Session(full_db, emit=emit)
    session.create("q")
    first_sent, resume = threading.Event(), threading.Event()
    engine, thread = start_turn(session, ScriptedLLM(blocked_stream(first_sent, resume)))
    assert first_sent.wait(5)
    full_db.full.set()  # the disk fills while the answer streams
    resume.set()
    thread.join(10)

    sent = emit.of("chat")[-1]
    stored = full_db.get_conversations(session.session_id)[-1]
    assert sent["status"] == "error" and stored["status"] == "progress"  # stored is the last state it took
    block = answer(sent)
    assert "storage is full" in block["status_message"] and "cannot save" in block["text"]
    assert block["data"] == {"error_type": "storage_full", "retry_after": 30}
    assert engine.finished


def test_full_disk_that_clears_before_the_final_save_stores_what_was_sent(emit: EmitRecorder) -> None:
    """The error is saved when the DB takes it: then the client's final equals the stored row."""
    calls = {"n": 0}

    class OnceFull(MemoryDB):
        def add_or_update_msg_to_conv(self, message: dict[str, Any]) -> None:
            calls["n"] += 1
            if message.get("status") == "success":  # the answer's final save hits the full disk
                raise StorageFullError("memory")
            super().add_or_update_msg_to_conv(message)

    db = OnceFull()
    session = Session(db, emit=emit)
    session.create("q")
    output = ReasoningEngine(session, ScriptedLLM(text_response("All of it.")), [], session.emit).run(
        session.new_input_message("q")
    )
    assert output.status == MsgStatus.ERROR
    sent = emit.of("chat")[-1]
    assert db.get_conversations(session.session_id)[-1] == sent
    assert answer(sent)["text"].startswith("All of it.") and "storage is full" in answer(sent)["text"]


def test_stopped_output_round_trips_through_the_model() -> None:
    message = OutputMessage(
        session_id="s", status=MsgStatus.STOPPED, stopped=True, stop_reason=StopReason.USER
    )
    again = OutputMessage.model_validate(message.model_dump(mode="json"))
    assert again.status == MsgStatus.STOPPED and again.stop_reason == StopReason.USER
    assert NOTHING_WRITTEN_TEXT.startswith("Stopped")


class ContextRefusingDB(MemoryDB):
    """Takes messages but refuses every write of the model's context with ``error``."""

    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error

    def add_or_update_context_msg(self, session_id: str, messages: list[dict[str, Any]]) -> None:
        raise self.error

    def save_turn_context(self, session_id: str, msg_id: str, turn_messages: Any, context: Any) -> None:
        raise self.error


@pytest.mark.parametrize("on_a_branch", [True, False], ids=["branch", "no-branch"])
@pytest.mark.parametrize(
    "error", [RuntimeError("refused"), StorageFullError("memory")], ids=["error", "full"]
)
def test_a_context_the_database_refuses_costs_neither_the_turn_nor_its_answer(
    error: Exception, on_a_branch: bool, emit: EmitRecorder
) -> None:
    """The answer's first and final states are saved with the context in one write; when the context
    part fails, the answer is saved on its own, as before the two were joined."""
    db = ContextRefusingDB(error)
    session = Session(db, emit=emit)
    session.create("q")
    question = session.new_input_message("q")
    if on_a_branch:
        session.branch = BranchTurn(input_msg_id=question.msg_id)
    output = ReasoningEngine(session, ScriptedLLM(text_response("All of it.")), [], session.emit).run(
        question
    )
    assert output.status == MsgStatus.SUCCESS
    stored = db.get_conversations(session.session_id)[-1]
    assert stored == emit.of("chat")[-1]
    assert stored["status"] == "success" and answer(stored)["text"] == "All of it."


def test_stop_and_save_before_the_turn_has_read_its_context_keeps_the_saved_one(
    session: Session, db: MemoryDB, emit: EmitRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A shutdown while the turn is still reading the context: the turn has shown nothing yet and stops
    by itself; the context saved before (the chat's history) must not be replaced by an empty one."""
    history = [{"role": "user", "content": "earlier"}, {"role": "assistant", "content": "yes"}]
    session.save_context_messages(history)
    reading, go_on = threading.Event(), threading.Event()
    read = session.get_context_messages

    def slow_read() -> list[dict[str, Any]]:
        reading.set()
        go_on.wait(5)
        return read()

    monkeypatch.setattr(session, "get_context_messages", slow_read)
    engine, thread = start_turn(session, ScriptedLLM(text_response("fine")))
    try:
        assert reading.wait(5)
        assert engine.stop_and_save(StopReason.SHUTDOWN) is False  # nothing published: it stops itself
    finally:
        go_on.set()
        thread.join(10)
    assert db.get_context_messages(session.session_id)[:2] == history
