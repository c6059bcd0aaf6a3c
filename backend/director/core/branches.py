"""Branches: a session's messages form a tree, and the model sees the branch being viewed.

Each message has a parent (``parent_msg_id``): an input follows the answer it replies to (None for a
conversation's first message), an output follows its input. Editing a message or regenerating an
answer sends a new input with the same parent as the old one: a sibling, so the old branch stays.

The branch shown is stored as ``view_tip``: the branch runs from the root to that message, then on
to its newest descendant (so a turn running on the branch extends what is shown). ``chat`` without
``parent_msg_id`` continues that branch.

The model's context of a branch is the concatenation of what each turn on its path added (saved per
turn by ``BranchTurn.save``). The session's saved context (``context_messages``) is that of the turn
named by ``context_tip``, trims included: a turn following that one starts from it, so continuing a
chat costs one read; any other turn (a new branch, or a switch) rebuilds its context from the turns.
A turn saved before branches existed has no saved share: its question and answer text stand in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from director.errors import UnknownParentError

if TYPE_CHECKING:
    from director.db.base import BaseDB

INPUT = "input"
OUTPUT = "output"


class MessageTree:
    """The shape of a session's conversation, from ``BaseDB.get_message_tree`` rows.

    Plain dicts rather than an object per message: a 5,000-message chat's tree is built for every
    page read (``bench/long_chat.py``).
    """

    def __init__(self, rows: Iterable[dict[str, Any]]):
        self.parents: dict[str, str | None] = {}
        self.types: dict[str, str | None] = {}
        # Children in creation order: the last one is the newest.
        self.children: dict[str | None, list[str]] = {}
        parents, types, children = self.parents, self.types, self.children
        previous: str | None = None
        for row in rows:
            msg_id, parent, kind = row["msg_id"], row["parent_msg_id"], row["msg_type"]
            if parent is None and kind == OUTPUT:
                # An answer always follows a message: one stored without a link (by a writer that
                # predates branches) follows the message stored before it, as it always did.
                parent = previous
            parents[msg_id] = parent
            types[msg_id] = kind
            if parent in children:
                children[parent].append(msg_id)
            else:
                children[parent] = [msg_id]
            previous = msg_id

    @classmethod
    def load(cls, db: BaseDB, session_id: str) -> MessageTree:
        return cls(db.get_message_tree(session_id))

    def __contains__(self, msg_id: object) -> bool:
        return msg_id in self.parents

    def path_to(self, msg_id: str | None) -> list[str]:
        """Ids from the root to ``msg_id`` (``[]`` for None or an unknown id)."""
        path: list[str] = []
        seen: set[str] = set()
        while msg_id is not None and msg_id in self.parents and msg_id not in seen:
            seen.add(msg_id)  # a corrupt cycle must not hang a request
            path.append(msg_id)
            msg_id = self.parents[msg_id]
        path.reverse()
        return path

    def newest_leaf(self, msg_id: str | None) -> str | None:
        """From ``msg_id`` (None: the roots) down through the newest child each time."""
        current = msg_id
        children = self.children.get(current)
        while children:
            current = children[-1]
            children = self.children.get(current)
        return current

    def branch(self, view_tip: str | None) -> list[str]:
        """The branch shown for a stored ``view_tip``: root to tip, then on to its newest leaf."""
        tip = view_tip if view_tip in self.parents else None
        return self.path_to(self.newest_leaf(tip))

    def siblings(self, msg_id: str) -> list[str]:
        if msg_id not in self.parents:
            return []
        return list(self.children.get(self.parents[msg_id], []))


def branch_info(tree: MessageTree, msg_id: str) -> dict[str, Any]:
    """What a client needs to draw ``< 2/3 >``: the message's siblings (itself included), in order."""
    siblings = tree.siblings(msg_id)
    return {"siblings": siblings, "sibling_index": siblings.index(msg_id) if msg_id in siblings else 0}


def current_branch(db: BaseDB, session_id: str) -> tuple[MessageTree, list[str]]:
    tree = MessageTree.load(db, session_id)
    return tree, tree.branch(db.get_branch_state(session_id)["view_tip"])


def resolve_parent(
    tree: MessageTree, view_tip: str | None, parent_given: bool, parent_msg_id: str | None
) -> str | None:
    """The message a new input follows: the one the client named (None: the start), or the end of the
    branch being viewed when it named none. A named parent must be an answer in this session."""
    if not parent_given:
        return tree.newest_leaf(view_tip if view_tip in tree else None)
    if parent_msg_id is None:
        return None
    if tree.types.get(parent_msg_id) != OUTPUT:
        raise UnknownParentError(parent_msg_id)
    return parent_msg_id


def join_turns(turns: Iterable[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Concatenate turns' context shares. A turn that repeated the previous turn's unanswered
    question (the engine does not add it twice) starts with it: it is kept once here too."""
    context: list[dict[str, Any]] = []
    for messages in turns:
        if context and messages and context[-1] == messages[0]:
            messages = messages[1:]
        context.extend(messages)
    return context


def _stand_in(input_message: dict[str, Any] | None, output: dict[str, Any] | None) -> list[dict[str, Any]]:
    """A turn saved before branches existed: its question and answer text, as the model saw them."""
    messages: list[dict[str, Any]] = []
    if input_message is not None:
        text = "\n\n".join(b.get("text") or "" for b in input_message.get("content") or [] if b.get("text"))
        messages.append({"role": "user", "content": text})
    if output is not None:
        answer = next((b for b in output.get("content") or [] if b.get("agent_name") == "assistant"), None)
        if answer and answer.get("text") and output.get("status") != "error":
            messages.append({"role": "assistant", "content": answer["text"]})
    return messages


def turn_share(context: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the running turn added: from its question (the last user message) on."""
    for index in range(len(context) - 1, -1, -1):
        if context[index].get("role") == "user":
            return context[index:]
    return list(context)


def context_before(
    db: BaseDB, session_id: str, tree: MessageTree, parent_msg_id: str | None
) -> list[dict[str, Any]]:
    """The model's context for a turn following ``parent_msg_id`` (None: a conversation's start)."""
    path = tree.path_to(parent_msg_id)
    inputs = [msg_id for msg_id in path if tree.types[msg_id] == INPUT]
    if not inputs:
        return []
    if db.get_branch_state(session_id)["context_tip"] == inputs[-1]:
        return list(db.get_context_messages(session_id))
    saved = db.get_turn_contexts(session_id, inputs)
    missing = [msg_id for msg_id in inputs if msg_id not in saved]
    stand_ins: dict[str, list[dict[str, Any]]] = {}
    if missing:
        outputs = {tree.parents[m]: m for m in path if tree.types[m] == OUTPUT}
        wanted = missing + [outputs[m] for m in missing if m in outputs]
        messages = {m["msg_id"]: m for m in db.get_messages(session_id, wanted)}
        for msg_id in missing:
            stand_ins[msg_id] = _stand_in(messages.get(msg_id), messages.get(outputs.get(msg_id, "")))
    return join_turns(saved[msg_id] if msg_id in saved else stand_ins[msg_id] for msg_id in inputs)


@dataclass
class BranchTurn:
    """One turn's place in the tree: ``Session`` reads and saves the model's context through it."""

    input_msg_id: str
    parent_msg_id: str | None = None
    tree: MessageTree | None = None
    context: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def place(
        cls, db: BaseDB, session_id: str, parent_given: bool, parent_msg_id: str | None, input_msg_id: str
    ) -> BranchTurn:
        """Where a new input goes (raises ``UnknownParentError``); its context is loaded later."""
        tree = MessageTree.load(db, session_id)
        view_tip = db.get_branch_state(session_id)["view_tip"] if tree.parents else None
        parent = resolve_parent(tree, view_tip, parent_given, parent_msg_id)
        return cls(input_msg_id, parent, tree)

    def load_context(self, db: BaseDB, session_id: str) -> None:
        tree = self.tree if self.tree is not None else MessageTree.load(db, session_id)
        self.context = context_before(db, session_id, tree, self.parent_msg_id)
        self.tree = None  # only needed until now

    def save(
        self,
        db: BaseDB,
        session_id: str,
        context: list[dict[str, Any]],
        with_message: dict[str, Any] | None = None,
    ) -> None:
        """Save the context after this turn; ``with_message`` (the turn's answer) in the same write."""
        if with_message is None:
            db.save_turn_context(session_id, self.input_msg_id, turn_share(context), context)
        else:
            db.save_message_and_turn_context(with_message, self.input_msg_id, turn_share(context), context)
        self.context = list(context)
