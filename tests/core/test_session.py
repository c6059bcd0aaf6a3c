from __future__ import annotations

import pytest
from director.core.session import (
    BlockStatus,
    InputMessage,
    MsgStatus,
    OutputMessage,
    Session,
    TextContent,
    make_title,
)

from tests.core.conftest import EmitRecorder
from tests.core.memory_db import MemoryDB


def test_create_titles_from_first_message_and_is_idempotent(db: MemoryDB) -> None:
    session = Session(db)
    row = session.create("  What   is\nthe price of gpt-4o?  ")
    assert row["title"] == "What is the price of gpt-4o?"
    assert session.create("another message")["title"] == "What is the price of gpt-4o?"
    assert len(db.sessions) == 1


def test_title_is_trimmed_at_a_word() -> None:
    title = make_title("word " * 50)
    assert len(title) <= 81 and title.endswith("…") and not title.endswith(" …")


def test_untitled_session_gets_a_title(db: MemoryDB) -> None:
    db.create_session("s1")
    assert Session(db, "s1").create("hello")["title"] == "hello"
    assert db.get_session("s1")["title"] == "hello"


def test_input_message_accepts_string_and_parts(session: Session) -> None:
    msg = session.new_input_message([{"type": "text", "text": "a"}, "b"], agents=["x"], client_msg_id="m")
    assert isinstance(msg, InputMessage)
    assert msg.text == "a\n\nb"
    dumped = msg.model_dump(mode="json")
    assert dumped["msg_type"] == "input" and dumped["agents"] == ["x"] and dumped["client_msg_id"] == "m"
    assert dumped["content"][0] == {
        "type": "text",
        "status": "success",
        "status_message": None,
        "agent_name": None,
        "text": "a",
        "data": None,
    }
    with pytest.raises(ValueError):
        session.new_input_message([{"type": "image", "url": "x"}])


def test_output_push_update_emits_and_persists(session: Session, db: MemoryDB, emit: EmitRecorder) -> None:
    out = session.new_output_message(conv_id="conv", client_msg_id="cm")
    assert isinstance(out, OutputMessage) and out.status == MsgStatus.PROGRESS
    block = out.add_block(TextContent(agent_name="assistant", status=BlockStatus.PROGRESS))
    out.update_block(block, text="partial")
    payload = out.push_update()
    assert emit.of("chat")[-1] == payload
    assert payload["msg_type"] == "output" and payload["conv_id"] == "conv" and payload["stopped"] is False
    assert db.get_conversations(session.session_id)[-1]["content"][0]["text"] == "partial"
    # Upsert: pushing again updates the same row.
    out.update_block(block, text="full")
    out.push_update()
    assert len(db.get_conversations(session.session_id)) == 1


def test_append_text_sends_each_delta_with_where_it_starts(session: Session, emit: EmitRecorder) -> None:
    out = session.new_output_message()
    block = out.add_block(TextContent(agent_name="assistant", text=""))
    for piece in ("tök", "🙂 ", "end"):
        out.append_text(block, piece)
    base = {"session_id": session.session_id, "conv_id": out.conv_id, "msg_id": out.msg_id}
    # Offsets count code points (Python's len), so an emoji is one, as it is for the stored text.
    assert emit.of("chat_delta") == [
        {**base, "delta": "tök", "offset": 0},
        {**base, "delta": "🙂 ", "offset": 3},
        {**base, "delta": "end", "offset": 5},
    ]
    assert block.text == "tök🙂 end"


def test_snapshot_is_the_running_message_and_none_once_final(session: Session) -> None:
    out = session.new_output_message()
    block = out.add_block(TextContent(agent_name="assistant", text=""))
    out.append_text(block, "so far")
    snapshot = out.snapshot()
    assert snapshot is not None and snapshot["content"][0]["text"] == "so far"
    out.push_update(final=True)
    assert out.snapshot() is None


def test_context_round_trip(session: Session) -> None:
    assert session.get_context_messages() == []
    session.save_context_messages([{"role": "user", "content": "x"}])
    assert session.get_context_messages() == [{"role": "user", "content": "x"}]
