"""Streaming answers are saved at a bounded interval (not per token) and can be resumed from offsets."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

from director.core.reasoning import EngineLimits, ReasoningEngine
from director.core.session import MsgStatus, OutputMessage, Session
from director.core.stream_saver import StreamSaver
from director.errors import StorageFullError
from director.llm.base import StreamEvent, TextDelta

from tests.core.conftest import EmitRecorder
from tests.core.memory_db import MemoryDB
from tests.core.test_reasoning import EchoAgent
from tests.fakes.scripted_llm import ScriptedLLM, ScriptedStream, text_response, tool_call, tool_response


def wait_until(predicate, timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return bool(predicate())


# -- StreamSaver on its own ------------------------------------------------------------------------


def test_a_burst_of_changes_is_one_save_and_a_quiet_change_is_still_saved() -> None:
    saves: list[float] = []
    saver = StreamSaver(lambda: saves.append(time.monotonic()), interval_s=0.2)
    for _ in range(500):
        saver.changed()
    assert wait_until(lambda: len(saves) == 1)
    time.sleep(0.3)
    assert len(saves) == 1, "no change since the save: nothing more to write"
    saver.changed()  # then the model goes quiet: the change must still reach storage
    assert wait_until(lambda: len(saves) == 2)
    assert saves[1] - saves[0] >= 0.2 - 0.01, "never more than one save per interval"
    saver.close()


def test_close_cancels_a_pending_save() -> None:
    saves: list[int] = []
    saver = StreamSaver(lambda: saves.append(1), interval_s=0.2)
    saver.changed()
    saver.close()
    saver.changed()  # after close: ignored
    time.sleep(0.4)
    assert saves == []


def test_a_failing_save_is_logged_and_the_next_change_tries_again(caplog) -> None:
    calls: list[int] = []

    def save() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise OSError("disk hiccup")

    saver = StreamSaver(save, interval_s=0.05)
    saver.changed()
    assert wait_until(lambda: len(calls) == 1)
    saver.changed()
    assert wait_until(lambda: len(calls) == 2)
    saver.close()
    assert "periodic save of a streaming answer failed" in caplog.text


# -- in the engine ---------------------------------------------------------------------------------


class HeldStream:
    """Streams ``words`` then holds the stream open until ``release`` is set, then finishes."""

    def __init__(self, words: list[str]):
        self.words = words
        self.sent = threading.Event()
        self.release = threading.Event()

    def __call__(self) -> Iterator[StreamEvent]:
        for word in self.words:
            yield TextDelta(text=word)
        self.sent.set()
        self.release.wait(10)
        yield text_response("".join(self.words))


def stored_answer(db: MemoryDB, session: Session) -> dict[str, Any] | None:
    outputs = [m for m in db.get_conversations(session.session_id) if m["msg_type"] == "output"]
    return outputs[-1] if outputs else None


def stored_text(db: MemoryDB, session: Session) -> str:
    answer = stored_answer(db, session)
    blocks = answer["content"] if answer else []
    return next((b["text"] for b in blocks if b["agent_name"] == "assistant"), "")


def test_streamed_text_is_stored_while_the_model_is_still_writing(
    session: Session, db: MemoryDB, emit: EmitRecorder
) -> None:
    words = [f"w{i} " for i in range(200)]
    held = HeldStream(words)
    engine = ReasoningEngine(
        session, ScriptedLLM(ScriptedStream(held)), [], session.emit, EngineLimits(stream_save_interval_s=0.2)
    )
    result: list[OutputMessage] = []
    thread = threading.Thread(target=lambda: result.append(engine.run(session.new_input_message("hi"))))
    thread.start()
    try:
        assert held.sent.wait(5)
        # The stream is held open: only the periodic save can have put the text in storage.
        assert wait_until(lambda: stored_text(db, session) == "".join(words))
        assert stored_answer(db, session)["status"] == MsgStatus.PROGRESS
        live = engine.live_message()
        assert live is not None and live["content"][-1]["text"] == "".join(words)
        # Not per token: 200 deltas arrived at once, a handful of writes took them.
        message_writes = [w for kind, w in db.writes if kind == "message" and w["msg_type"] == "output"]
        assert len(message_writes) <= 5
        # Every save was also sent whole, so a client that missed deltas catches up from it.
        assert emit.of("chat")[-1]["content"][-1]["text"] == "".join(words)
    finally:
        held.release.set()
        thread.join(10)
    assert result[0].status == MsgStatus.SUCCESS
    assert engine.live_message() is None


def test_delta_offsets_run_on_without_a_gap_across_steps(session: Session, emit: EmitRecorder) -> None:
    llm = ScriptedLLM(
        tool_response(tool_call("echo", {"text": "x"}), content="Let me check. "),
        text_response("Done: x 🙂 and more."),
    )
    engine = ReasoningEngine(session, llm, [EchoAgent()], session.emit, EngineLimits())
    output = engine.run(session.new_input_message("hi"))

    final_text = next(b.text for b in output.content if b.agent_name == "assistant")
    rebuilt = ""
    for delta in emit.of("chat_delta"):
        assert delta["offset"] == len(rebuilt), "each delta starts where the previous one ended"
        rebuilt += delta["delta"]
    assert rebuilt == final_text


def test_a_full_disk_is_left_to_the_turn_and_its_alarm_not_logged_again(caplog) -> None:
    """storage_alarm logs a full disk once a minute; the turn's next own save ends it saying so."""
    calls: list[int] = []

    def save() -> None:
        calls.append(1)
        raise StorageFullError("sqlite")

    saver = StreamSaver(save, interval_s=0.05)
    saver.changed()
    assert wait_until(lambda: len(calls) == 1)
    saver.close()
    assert "failed" not in caplog.text and "Traceback" not in caplog.text
