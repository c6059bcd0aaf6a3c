"""Branches: edit and regenerate make siblings, and the model's context is always the viewed branch.

Turns run through the real TurnRunner and ReasoningEngine (synchronously) against ScriptedLLM, which
records exactly what the model was sent; the history includes tool calls and their results.
"""

from __future__ import annotations

from typing import Any

import pytest
from director.core.branches import MessageTree, join_turns, resolve_parent, turn_share
from director.core.history import branch_page, switch_branch
from director.core.reasoning import EngineLimits
from director.core.session import ChatRequest
from director.core.turn_runner import TurnRunner
from director.core.turns import LocalTurnRegistry
from director.errors import UnknownParentError

from tests.core.memory_db import MemoryDB
from tests.core.test_reasoning import EchoAgent
from tests.fakes.scripted_llm import ScriptedLLM, text_response, tool_call, tool_response

SESSION = "s1"


class Chat:
    """Sends turns like the socket layer does and returns what the model saw (system prompt left out)."""

    def __init__(self, db: Any) -> None:
        self.db = db
        self.llm = ScriptedLLM()
        self.runner = TurnRunner(
            db,
            self.llm,
            [EchoAgent],
            EngineLimits(),
            LocalTurnRegistry(),
            spawn=lambda fn, *args: fn(*args),
        )

    def send(self, text: str, *answers: Any, parent: Any = ...) -> list[dict[str, Any]]:
        self.llm.queue(*(answers or [text_response(f"answer to {text}")]))
        calls_before = len(self.llm.calls)
        request = ChatRequest(
            session_id=SESSION,
            text_parts=[text],
            parent_msg_id=None if parent is ... else parent,
            parent_given=parent is not ...,
        )
        self.runner.start(request, SESSION, lambda event, payload: None)
        return [m for m in self.llm.calls[calls_before].messages if m["role"] != "system"]

    def branch(self) -> list[dict[str, Any]]:
        return branch_page(self.db, SESSION)["conversation"]

    def version(self, msg_id: str) -> dict[str, Any] | None:
        """``{siblings, sibling_index}`` of a shown message with siblings (None without)."""
        return branch_page(self.db, SESSION)["versions"].get(msg_id)

    def ids(self, text: str) -> tuple[str, str]:
        """(input id, its answer's id) of the input with this text on the viewed branch."""
        branch = self.branch()
        for index, message in enumerate(branch):
            if message["msg_type"] == "input" and message["content"][0]["text"] == text:
                return message["msg_id"], branch[index + 1]["msg_id"]
        raise AssertionError(f"{text!r} is not on the viewed branch")


def _texts(context: list[dict[str, Any]]) -> list[Any]:
    return [m.get("content") if m["role"] != "tool" else f"tool:{m['tool_call_id']}" for m in context]


def _branch_texts(chat: Chat) -> list[str]:
    return [m["content"][-1]["text"] for m in chat.branch()]


@pytest.fixture
def chat() -> Chat:
    return Chat(MemoryDB())


def _first_turn_with_a_tool_call(chat: Chat) -> None:
    call = tool_call("echo", {"text": "hi"}, call_id="call_1")
    chat.send("q1", tool_response(call), text_response("a1"))


def test_edit_makes_a_sibling_and_the_model_sees_only_the_new_branch(chat: Chat) -> None:
    _first_turn_with_a_tool_call(chat)
    chat.send("q2")
    _, a1 = chat.ids("q1")

    seen = chat.send("q2 edited", parent=a1)

    # The tool call and its result stay in the history; the replaced question and answer do not.
    assert _texts(seen) == ["q1", None, "tool:call_1", "a1", "q2 edited"]
    assert seen[1]["tool_calls"][0]["id"] == "call_1"
    assert _branch_texts(chat) == ["q1", "a1", "q2 edited", "answer to q2 edited"]
    edited = chat.branch()[2]
    assert edited["parent_msg_id"] == a1
    version = chat.version(edited["msg_id"])
    assert (
        version is not None and version["sibling_index"] == 1 and len(version["siblings"]) == 2
    )  # "< 2/2 >"
    assert chat.version(chat.branch()[0]["msg_id"]) is None  # q1 has no other version: no arrows


def test_continuing_follows_the_viewed_branch_and_switching_back_restores_its_context(chat: Chat) -> None:
    _first_turn_with_a_tool_call(chat)
    chat.send("q2")
    original_q2, _ = chat.ids("q2")
    _, a1 = chat.ids("q1")
    chat.send("q2 edited", parent=a1)

    # No parent named: the branch being viewed (the edited one) continues.
    seen = chat.send("q3")
    assert _texts(seen) == ["q1", None, "tool:call_1", "a1", "q2 edited", "answer to q2 edited", "q3"]

    # Switch to the original q2 (the "<" arrow): shown from now on, and the model's context follows.
    switch_branch(chat.db, SESSION, original_q2)
    assert _branch_texts(chat) == ["q1", "a1", "q2", "answer to q2"]
    seen = chat.send("q3 on the first branch")
    assert _texts(seen) == ["q1", None, "tool:call_1", "a1", "q2", "answer to q2", "q3 on the first branch"]


def test_regenerate_resends_with_the_same_parent_and_keeps_both_answers(chat: Chat) -> None:
    _first_turn_with_a_tool_call(chat)
    chat.send("q2", text_response("first try"))
    q2, _ = chat.ids("q2")
    parent = chat.branch()[1]["msg_id"]

    seen = chat.send("q2", text_response("second try"), parent=parent)

    assert _texts(seen) == ["q1", None, "tool:call_1", "a1", "q2"]  # asked once, not twice
    assert _branch_texts(chat)[-1] == "second try"
    switch_branch(chat.db, SESSION, q2)
    assert _branch_texts(chat)[-1] == "first try"


def test_a_branch_with_tool_calls_in_its_own_turns_keeps_them(chat: Chat) -> None:
    _first_turn_with_a_tool_call(chat)
    _, a1 = chat.ids("q1")
    call = tool_call("echo", {"text": "b"}, call_id="call_b")
    chat.send("branch b", tool_response(call), text_response("b done"), parent=a1)
    branch_b, _ = chat.ids("branch b")
    chat.send("branch c", parent=a1)

    switch_branch(chat.db, SESSION, branch_b)
    seen = chat.send("after b")
    assert _texts(seen) == [
        "q1",
        None,
        "tool:call_1",
        "a1",
        "branch b",
        None,
        "tool:call_b",
        "b done",
        "after b",
    ]


def test_editing_the_first_message_starts_from_nothing(chat: Chat) -> None:
    _first_turn_with_a_tool_call(chat)
    seen = chat.send("q1 edited", parent=None)
    assert _texts(seen) == ["q1 edited"]
    assert chat.version(chat.branch()[0]["msg_id"])["sibling_index"] == 1


def test_a_parent_that_is_not_an_answer_of_the_session_is_refused_and_nothing_is_stored(chat: Chat) -> None:
    _first_turn_with_a_tool_call(chat)
    q1, _ = chat.ids("q1")
    before = chat.db.get_message_tree(SESSION)
    for parent in ("no-such-message", q1):  # unknown, and a question rather than an answer
        with pytest.raises(UnknownParentError):
            chat.send("x", parent=parent)
    assert chat.db.get_message_tree(SESSION) == before
    assert not chat.runner.registry.is_busy(SESSION)  # the claim was released


def test_turns_saved_before_branches_existed_stand_in_with_their_text() -> None:
    db = MemoryDB()
    # A linear session as migration 0005 leaves it: parents linked, no per-turn context saved.
    for msg_id, parent, kind, text in (
        ("i1", None, "input", "old question"),
        ("o1", "i1", "output", "old answer"),
        ("i2", "o1", "input", "second"),
        ("o2", "i2", "output", "second answer"),
    ):
        block = {"type": "text", "text": text, "agent_name": "assistant" if kind == "output" else None}
        db.add_or_update_msg_to_conv(
            {"session_id": SESSION, "msg_id": msg_id, "parent_msg_id": parent, "msg_type": kind}
            | {"content": [block], "status": "success", "created_at": len(db.get_message_tree(SESSION))}
        )
    chat = Chat(db)
    seen = chat.send("branch from the old answer", parent="o1")
    assert _texts(seen) == ["old question", "old answer", "branch from the old answer"]


def test_join_turns_keeps_a_repeated_unanswered_question_once() -> None:
    failed = [{"role": "user", "content": "q"}]
    retried = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]
    assert join_turns([failed, retried]) == retried
    assert turn_share([{"role": "user", "content": "old"}, *retried]) == retried


def test_tree_navigation() -> None:
    rows = [
        {"msg_id": "i1", "parent_msg_id": None, "msg_type": "input"},
        {"msg_id": "o1", "parent_msg_id": None, "msg_type": "output"},  # unlinked: follows i1
        {"msg_id": "i2", "parent_msg_id": "o1", "msg_type": "input"},
        {"msg_id": "o2", "parent_msg_id": "i2", "msg_type": "output"},
        {"msg_id": "i2b", "parent_msg_id": "o1", "msg_type": "input"},
    ]
    tree = MessageTree(rows)
    assert tree.branch(None) == ["i1", "o1", "i2b"]  # newest everywhere
    assert tree.branch("i2") == ["i1", "o1", "i2", "o2"]
    assert tree.siblings("i2") == ["i2", "i2b"]
    assert resolve_parent(tree, "i2", False, None) == "o2"
    assert resolve_parent(tree, "i2", True, None) is None
    with pytest.raises(UnknownParentError):
        resolve_parent(tree, None, True, "i2")
