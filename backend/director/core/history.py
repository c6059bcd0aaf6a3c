"""What a client reads of a session's conversation: the branch being viewed, a page at a time.

A page is ``limit`` messages of the branch ending just before the message ``before`` (the newest ones
when no ``before``), in conversation order. Its cursor for the next (older) page is its first message's
id: messages are only ever added after the end of a branch, so a cursor stays valid while a turn
answers, and pages never overlap or skip. Every message carries its ``parent_msg_id``; messages are
returned exactly as stored (what a client was told is what it reads back), so the ``< 2/3 >`` arrows come
beside them: ``versions`` maps the id of each message of the page that has siblings to
``{siblings, sibling_index}`` (ids, itself included, oldest first).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from director.core.branches import MessageTree, branch_info, current_branch
from director.errors import BadPayloadError, NotFoundError

if TYPE_CHECKING:
    from director.db.base import BaseDB

MAX_PAGE = 500


class BadCursorError(BadPayloadError):
    def __init__(self, message: str):
        super().__init__("invalid_cursor", message)


def parse_limit(raw: str | None) -> int | None:
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        raise BadCursorError(f"limit must be a whole number from 1 to {MAX_PAGE}.")
    return int(raw)


def branch_page(
    db: BaseDB,
    session_id: str,
    limit: int | None = None,
    before: str | None = None,
    finish: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """``{conversation, versions, has_more, next_before, branch_length}``; ``finish`` maps each message
    (the REST layer shows a crashed answer as interrupted)."""
    tree, branch = current_branch(db, session_id)
    end = len(branch)
    if before:
        if before not in tree:
            raise BadCursorError("before must be the id of a message of this session.")
        if before not in branch:
            # The branch shown changed (another tab switched it): the client reloads from the end.
            raise BadCursorError("That message is not on the branch being viewed any more; reload the chat.")
        end = branch.index(before)
    start = 0 if limit is None else max(0, end - limit)
    page_ids = branch[start:end]
    messages = db.get_messages(session_id, page_ids)
    if finish is not None:
        messages = [finish(message) for message in messages]
    versions = {msg_id: branch_info(tree, msg_id) for msg_id in page_ids if len(tree.siblings(msg_id)) > 1}
    return {
        "conversation": messages,
        "versions": versions,
        "has_more": start > 0,
        "next_before": branch[start] if start > 0 else None,
        "branch_length": len(branch),
    }


def switch_branch(db: BaseDB, session_id: str, msg_id: str) -> None:
    """Show the branch through ``msg_id`` (on to its newest leaf) from now on."""
    tree = MessageTree.load(db, session_id)
    if msg_id not in tree:
        raise NotFoundError(f"No message with id {msg_id[:128]!r} in this session.")
    db.set_view_tip(session_id, msg_id)


def sessions_page(db: BaseDB, limit: int, cursor: str | None = None) -> dict[str, Any]:
    """``{sessions, next_cursor}``: a page of ``GET /session``, newest first. The cursor names the last
    session shown (its sort key), so a session bumped by a new message meanwhile moves to the top
    without shifting the others: no session is skipped or repeated."""
    rows = db.get_sessions_page(limit + 1, _decode_cursor(cursor) if cursor else None)
    page, more = rows[:limit], len(rows) > limit
    last = page[-1] if page else None
    next_cursor = _encode_cursor(last) if more and last else None
    return {"sessions": page, "next_cursor": next_cursor}


def _encode_cursor(session: dict[str, Any]) -> str:
    key = [session["updated_at"], session["created_at"], session["session_id"]]
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[float, float, str]:
    try:
        updated_at, created_at, session_id = json.loads(
            base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        )
        if not (
            isinstance(session_id, str) and all(isinstance(t, int | float) for t in (updated_at, created_at))
        ):
            raise ValueError
    except (ValueError, TypeError, binascii.Error) as exc:
        raise BadCursorError("cursor must be a next_cursor returned by GET /session.") from exc
    return float(updated_at), float(created_at), session_id
