"""Branches on SQLite and a real PostgreSQL: the tree's storage, each turn's context, the viewed branch,
and migration 0005 upgrading a database made by the previous version with nothing lost."""

from __future__ import annotations

from typing import Any

import pytest
from director.core.branches import current_branch
from director.core.history import branch_page, sessions_page
from director.db.base import BaseDB
from director.errors import BadPayloadError

from tests.core.test_branches import SESSION, Chat, _branch_texts, _texts
from tests.db.fixtures.before_migrations import write_old_database
from tests.db.test_contract import input_message, output_message
from tests.db.test_migrations import TOOL_CALL_CONTEXT, old_data, open_db
from tests.fakes.scripted_llm import text_response, tool_call, tool_response


def _linked(message: dict[str, Any], parent: str | None) -> dict[str, Any]:
    return {**message, "parent_msg_id": parent}


def test_the_tree_is_stored_with_each_message(db: BaseDB) -> None:
    db.add_or_update_msg_to_conv(_linked(input_message("s", "i1", "q", 1.0), None))
    db.add_or_update_msg_to_conv(_linked(output_message("s", "o1", created_at=2.0), "i1"))
    db.add_or_update_msg_to_conv(_linked(input_message("s", "i2", "edit", 3.0), None))
    # An upsert (the answer streaming on) keeps its place in the tree.
    db.add_or_update_msg_to_conv(_linked(output_message("s", "o1", status="success", created_at=2.0), "i1"))

    assert [(r["msg_id"], r["parent_msg_id"], r["msg_type"]) for r in db.get_message_tree("s")] == [
        ("i1", None, "input"),
        ("o1", "i1", "output"),
        ("i2", None, "input"),
    ]
    found = db.get_messages("s", ["o1", "unknown", "i1"])
    assert [(m["msg_id"], m["parent_msg_id"]) for m in found] == [("o1", "i1"), ("i1", None)]
    assert found[0]["status"] == "success"
    assert db.get_message_tree("unknown") == [] and db.get_messages("unknown", ["i1"]) == []


def test_turn_contexts_and_the_branch_state_are_saved_together(db: BaseDB) -> None:
    assert db.get_branch_state("s") == {"view_tip": None, "context_tip": None}
    db.save_turn_context("s", "i1", TOOL_CALL_CONTEXT[1:], TOOL_CALL_CONTEXT)
    db.set_view_tip("s", "o1")
    assert db.get_branch_state("s") == {"view_tip": "o1", "context_tip": "i1"}
    assert db.get_turn_contexts("s", ["i1", "i9"]) == {"i1": TOOL_CALL_CONTEXT[1:]}
    assert db.get_context_messages("s") == TOOL_CALL_CONTEXT
    db.save_turn_context("s", "i2", [], [])
    assert db.get_branch_state("s") == {"view_tip": "o1", "context_tip": "i2"}
    assert db.delete_session("s") is True
    assert db.get_turn_contexts("s", ["i1"]) == {} and db.get_branch_state("s")["view_tip"] is None


def test_an_answer_and_its_turn_context_are_saved_in_one_write(db: BaseDB, monkeypatch: Any) -> None:
    """The answer's first and final states go with the context (core/reasoning.py): both or neither."""
    db.add_or_update_msg_to_conv(_linked(input_message("s", "i1", "q", 1.0), None))
    answer = _linked(output_message("s", "o1", status="success", created_at=2.0), "i1")
    db.save_message_and_turn_context(answer, "i1", TOOL_CALL_CONTEXT[1:], TOOL_CALL_CONTEXT)
    assert db.get_messages("s", ["o1"])[0]["status"] == "success"
    assert db.get_turn_contexts("s", ["i1"]) == {"i1": TOOL_CALL_CONTEXT[1:]}
    assert db.get_context_messages("s") == TOOL_CALL_CONTEXT
    assert db.get_branch_state("s")["context_tip"] == "i1"

    # A failure at the last statement leaves the earlier ones of that write unsaved too.
    tip = db._sql.branches.upsert_context_tip  # type: ignore[attr-defined]

    def refuse(*args: Any) -> None:
        raise RuntimeError("refused")

    monkeypatch.setattr(tip, "run", refuse)
    later = _linked(output_message("s", "o2", status="success", created_at=4.0), "i2")
    with pytest.raises(RuntimeError):
        db.save_message_and_turn_context(later, "i2", [], [])
    assert db.get_messages("s", ["o2"]) == [] and db.get_turn_contexts("s", ["i2"]) == {}
    assert db.get_context_messages("s") == TOOL_CALL_CONTEXT


def test_branch_contexts_with_tool_calls(db: BaseDB) -> None:
    chat = Chat(db)
    chat.send("q1", tool_response(tool_call("echo", {"text": "x"}, call_id="call_1")), text_response("a1"))
    chat.send("q2")
    _, a1 = chat.ids("q1")
    q2, _ = chat.ids("q2")
    edited = chat.send(
        "q2 edited",
        tool_response(tool_call("echo", {"text": "y"}, call_id="call_2")),
        text_response("a2"),
        parent=a1,
    )
    assert _texts(edited) == ["q1", None, "tool:call_1", "a1", "q2 edited"]

    # The "<" arrow: the original q2's branch is shown, and the model's context follows it.
    chat.db.set_view_tip(SESSION, q2)
    assert _branch_texts(chat) == ["q1", "a1", "q2", "answer to q2"]
    seen = chat.send("q3")
    assert _texts(seen) == ["q1", None, "tool:call_1", "a1", "q2", "answer to q2", "q3"]

    # From the root the branch takes the newest child at every step: the edited q2, with its tool call.
    chat.db.set_view_tip(SESSION, chat.ids("q1")[0])
    seen = chat.send("q4")
    assert _texts(seen) == ["q1", None, "tool:call_1", "a1", "q2 edited", None, "tool:call_2", "a2", "q4"]


def test_pages_walk_the_branch_back_without_gaps_while_it_grows(db: BaseDB) -> None:
    previous = None
    for n in range(7):
        db.add_or_update_msg_to_conv(_linked(input_message("s", f"i{n}", f"q{n}", float(2 * n)), previous))
        db.add_or_update_msg_to_conv(
            _linked({**output_message("s", f"o{n}"), "created_at": 2.0 * n + 1}, f"i{n}")
        )
        previous = f"o{n}"
    first = branch_page(db, "s", limit=4)
    assert [m["msg_id"] for m in first["conversation"]] == ["i5", "o5", "i6", "o6"]
    assert first["has_more"] and first["next_before"] == "i5" and first["branch_length"] == 14

    # A new turn arrives between pages: the cursor still means the same place.
    db.add_or_update_msg_to_conv(_linked(input_message("s", "i7", "q7", 20.0), "o6"))
    seen = [m["msg_id"] for m in first["conversation"]]
    before = first["next_before"]
    while before:
        page = branch_page(db, "s", limit=4, before=before)
        seen = [m["msg_id"] for m in page["conversation"]] + seen
        before = page["next_before"]
    assert seen == [f"{kind}{n}" for n in range(7) for kind in ("i", "o")]


def test_migration_links_existing_sessions_and_keeps_their_context(backend: str, storage: str) -> None:
    data = old_data()
    write_old_database(backend, storage, data)
    db = open_db(backend, storage)
    try:
        for session_id, messages in data["conversations"].items():
            # Old data intact.
            assert db.get_conversations(session_id) == messages
            assert db.get_context_messages(session_id) == data["context"][session_id]
            # Linked in the order they were always read (m2 and m3 share a creation time in s1).
            tree, branch = current_branch(db, session_id)
            assert branch == [m["msg_id"] for m in messages]
            assert list(tree.parents.values()) == [None, *branch[:-1]]
        assert db.get_branch_state("s1") == {"view_tip": "m3", "context_tip": "m3"}

        # Continuing the old chat starts from exactly the context it had (tool calls included).
        chat = Chat(db)
        chat.send("more")  # SESSION is "s1"
        seen = chat.llm.calls[0].messages
        assert seen[0]["role"] == "system"  # the engine's own, then the saved context as it was
        assert seen[1:] == [*TOOL_CALL_CONTEXT, {"role": "user", "content": "more"}]
        assert branch_page(db, "s1")["conversation"][-2]["parent_msg_id"] == "m3"
    finally:
        db.close()


def test_session_pages_neither_skip_nor_repeat_while_chats_move(db: BaseDB) -> None:
    for n in range(7):
        db.add_or_update_msg_to_conv(_linked(input_message(f"s{n}", "i", "q", float(n)), None))
    first = sessions_page(db, 3)
    assert [s["session_id"] for s in first["sessions"]] == ["s6", "s5", "s4"]

    # Meanwhile a chat already seen gets a message (it jumps to the top) and a new one starts.
    db.add_or_update_msg_to_conv(_linked(input_message("s5", "i2", "again", 10.0), "i"))
    db.add_or_update_msg_to_conv(_linked(input_message("s-new", "i", "q", 11.0), None))
    seen = [s["session_id"] for s in first["sessions"]]
    cursor = first["next_cursor"]
    while cursor:
        page = sessions_page(db, 3, cursor)
        seen += [s["session_id"] for s in page["sessions"]]
        cursor = page["next_cursor"]
    assert seen == ["s6", "s5", "s4", "s3", "s2", "s1", "s0"]
    with pytest.raises(BadPayloadError):
        sessions_page(db, 3, "not-a-cursor")
