"""A long chat written straight into a database: linked question/answer pairs, as the server stores
them (for the long-chat e2e test and bench/long_chat.py)."""

from __future__ import annotations

from typing import Any

from director.db.base import BaseDB


def question_text(n: int) -> str:
    return f"Question number {n}: what changed in release {n}?"


def answer_text(n: int) -> str:
    return (
        f"Answer number {n}.\n\n- first point about release {n}\n- second point\n\n`code {n}` and **bold**."
    )


def seed_long_chat(db: BaseDB, session_id: str, messages: int, start: float = 1_700_000_000.0) -> list[str]:
    """Write ``messages`` messages (alternating question and answer) and return their ids in order."""
    ids: list[str] = []
    parent: str | None = None
    for index in range(messages):
        n = index // 2
        is_input = index % 2 == 0
        msg_id = f"{'q' if is_input else 'a'}{n:05d}"
        message: dict[str, Any] = {
            "session_id": session_id,
            "conv_id": f"conv{n}",
            "msg_id": msg_id,
            "msg_type": "input" if is_input else "output",
            "parent_msg_id": parent,
            "created_at": start + index,
            "agents": [],
            "content": [
                {
                    "type": "text",
                    "status": "success",
                    "agent_name": None if is_input else "assistant",
                    "text": question_text(n) if is_input else answer_text(n),
                }
            ],
        }
        if not is_input:
            message |= {"status": "success", "actions": ["Asked the model"], "updated_at": start + index}
        db.add_or_update_msg_to_conv(message)
        ids.append(msg_id)
        parent = msg_id
    db.update_session(session_id, title=f"A chat of {messages} messages")
    return ids
