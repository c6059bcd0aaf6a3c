"""Stream deltas are merged on the wire (at most one chat_delta per interval per answer), with exact offsets."""

from __future__ import annotations

import threading
import time

import pytest
from director.core import delta_batcher
from director.core.delta_batcher import DeltaBatcher
from director.core.session import MsgStatus, Session, TextContent

from tests.core.conftest import EmitRecorder

INTERVAL_S = 0.05


@pytest.fixture
def batched(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(delta_batcher, "DELTA_INTERVAL_S", INTERVAL_S)


def wait_for(condition, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.005)


def test_the_first_delta_goes_at_once_and_the_rest_of_the_interval_goes_as_one():
    lock = threading.RLock()
    sent: list[tuple[str, int, float]] = []
    batcher = DeltaBatcher(
        lock, lambda delta, offset: sent.append((delta, offset, time.monotonic())), INTERVAL_S
    )
    block = object()
    started = time.monotonic()
    with lock:
        batcher.add(block, "tök", 0)
        assert [s[:2] for s in sent] == [("tök", 0)]  # no added latency for the first token
        batcher.add(block, "🙂 ", 3)
        batcher.add(block, "end", 5)
    assert len(sent) == 1
    wait_for(lambda: len(sent) == 2)
    assert sent[1][:2] == ("🙂 end", 3)  # offsets count code points, as the stored text does
    assert sent[1][2] - started >= INTERVAL_S * 0.9
    time.sleep(INTERVAL_S * 3)
    assert len(sent) == 2, "nothing is sent twice"


def test_text_that_does_not_continue_the_pending_part_flushes_it_first():
    lock = threading.RLock()
    sent: list[tuple[str, int]] = []
    batcher = DeltaBatcher(lock, lambda delta, offset: sent.append((delta, offset)), 10.0)
    first, second = object(), object()
    with lock:
        batcher.add(first, "a", 0)
        batcher.add(first, "b", 1)
        batcher.add(second, "x", 0)  # another block: "b" must not be merged into it
        batcher.add(second, "y", 1)
        batcher.add(second, "z", 5)  # not contiguous
    assert sent == [("a", 0), ("b", 1), ("xy", 0)]


def test_a_whole_message_sends_the_pending_delta_first_and_later_deltas_continue(
    batched, session: Session, emit: EmitRecorder
):
    out = session.new_output_message()
    block = out.add_block(TextContent(agent_name="assistant", text=""))
    for piece in ("Hello", ", wor", "ld"):
        out.append_text(block, piece)
    payload = out.push_update()
    assert payload["content"][0]["text"] == "Hello, world"
    names = [name for name, _ in emit.events]
    assert names[-2:] == ["chat_delta", "chat"], "the pending delta goes before the whole message"
    time.sleep(INTERVAL_S * 3)
    assert [(d["delta"], d["offset"]) for d in emit.of("chat_delta")] == [("Hello", 0), (", world", 5)]
    out.append_text(block, "!")  # a quiet spell since the last send: at once
    out.append_text(block, "?")
    out.append_text(block, "!")
    wait_for(lambda: len(emit.of("chat_delta")) == 4)
    assert [(d["delta"], d["offset"]) for d in emit.of("chat_delta")][2:] == [("!", 12), ("?!", 13)]


def test_nothing_is_sent_after_the_final_message(batched, session: Session, emit: EmitRecorder):
    out = session.new_output_message()
    block = out.add_block(TextContent(agent_name="assistant", text=""))
    out.append_text(block, "one")
    out.append_text(block, " two")
    out.finish(lambda message: message.set_status(MsgStatus.SUCCESS))
    out.append_text(block, " three")  # the turn's thread, still running after a shutdown finished it
    out.append_text(block, " four")
    time.sleep(INTERVAL_S * 3)
    assert [d["delta"] for d in emit.of("chat_delta")] == ["one", " two"]  # both before the final chat
    assert emit.events[-1][0] == "chat" and emit.of("chat")[-1]["content"][0]["text"] == "one two"


def test_many_answers_at_once_each_get_every_character_in_order(
    batched, session: Session, emit: EmitRecorder
):
    outputs = [session.new_output_message() for _ in range(20)]
    words = [f"w{i}🙂 " for i in range(30)]

    def stream(out) -> None:
        block = out.add_block(TextContent(agent_name="assistant", text=""))
        for word in words:
            out.append_text(block, word)
            time.sleep(0.003)

    threads = [threading.Thread(target=stream, args=(out,)) for out in outputs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    expected = "".join(words)
    wait_for(lambda: all(rebuilt(emit, out.msg_id) == expected for out in outputs))
    deltas = emit.of("chat_delta")
    assert len(deltas) < len(outputs) * len(words) / 2, "deltas were merged"


def rebuilt(emit: EmitRecorder, msg_id: str) -> str:
    text = ""
    for delta in emit.of("chat_delta"):
        if delta["msg_id"] == msg_id:
            assert delta["offset"] == len(text), "each delta starts where the previous one ended"
            text += delta["delta"]
    return text


def test_an_answer_whose_lock_is_held_does_not_hold_up_the_others():
    busy_lock, free_lock = threading.RLock(), threading.RLock()
    sent: list[str] = []
    busy = DeltaBatcher(busy_lock, lambda delta, offset: sent.append("busy:" + delta), INTERVAL_S)
    free = DeltaBatcher(free_lock, lambda delta, offset: sent.append("free:" + delta), INTERVAL_S)
    block = object()
    with busy_lock:
        busy.add(block, "a", 0)
        busy.add(block, "b", 1)
    with free_lock:
        free.add(block, "x", 0)
        free.add(block, "y", 1)
    holder_done = threading.Event()
    held = threading.Event()

    def hold() -> None:  # another thread holds the busy answer's lock, e.g. saving the whole message
        with busy_lock:
            held.set()
            holder_done.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(5)
    try:
        wait_for(lambda: "free:y" in sent)
        assert "busy:b" not in sent
    finally:
        holder_done.set()
        holder.join()
    wait_for(lambda: "busy:b" in sent)  # sent once the lock is free again
    assert sent.count("busy:b") == 1 and sent.count("free:y") == 1
