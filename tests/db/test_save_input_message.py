"""A turn's start is one transaction on both backends: the user's message, its session row (titled when
new or untitled), and the message as the shown branch's tip; nothing of it when the message is bad."""

from __future__ import annotations

import pytest
from director.db.base import BaseDB


def _input(session_id: str, msg_id: str, text: str = "what do pelicans eat?") -> dict:
    return {
        "session_id": session_id,
        "msg_id": msg_id,
        "msg_type": "input",
        "content": [{"type": "text", "text": text}],
        "created_at": 1000.0,
    }


def test_a_new_chat_gets_its_row_title_message_and_branch_tip(db: BaseDB) -> None:
    db.save_input_message(_input("s1", "m1"), title="what do pelicans eat?")
    session = db.get_session("s1")
    assert session is not None and session["title"] == "what do pelicans eat?"
    assert [m["msg_id"] for m in db.get_conversations("s1")] == ["m1"]
    assert db.get_branch_state("s1")["view_tip"] == "m1"
    assert [hit["session_id"] for hit in db.search_messages("pelicans")] == ["s1"]  # indexed as before


def test_an_existing_title_is_kept_and_an_untitled_chat_is_titled(db: BaseDB) -> None:
    db.create_session("named", title="Mine")
    before = db.get_session("named")
    db.save_input_message(_input("named", "m1"), title="the start of the message")
    after = db.get_session("named")
    assert after["title"] == "Mine" and after["updated_at"] >= before["updated_at"]

    db.create_session("untitled")
    db.save_input_message(_input("untitled", "m1"), title="the start of the message")
    assert db.get_session("untitled")["title"] == "the start of the message"

    db.save_input_message(_input("untitled", "m2"))  # no title given: the chat's stays
    assert db.get_session("untitled")["title"] == "the start of the message"
    assert db.get_branch_state("untitled")["view_tip"] == "m2"


def test_a_bad_message_writes_nothing(db: BaseDB) -> None:
    with pytest.raises(ValueError):
        db.save_input_message({"session_id": "s1", "msg_type": "input"}, title="t")  # no msg_id
    with pytest.raises(ValueError):
        db.save_input_message(_input("s1", "m1"), title=7)  # type: ignore[arg-type]
    assert db.get_session("s1") is None and db.get_conversations("s1") == []
