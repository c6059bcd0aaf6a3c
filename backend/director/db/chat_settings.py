"""Renaming and pinning a chat (issue 13): what a user sets on a session, kept in its row.

A pin is ``metadata.pinned`` (true, or absent); a title the user chose sets ``metadata.title_by_user``
so a title written by the model later never replaces it. Neither moves the chat in the newest-first
order (``updated_at`` is left alone): pinned chats are listed first by ``pinned_first``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, bindparam, select, update

from director.db.prepared import Prepared
from director.db.schema import sessions

MAX_TITLE_CHARS = 200


def check_chat_settings(title: Any, pinned: Any) -> str | None:
    """The cleaned title (None: unchanged); ``ValueError`` for a bad one or a ``pinned`` that is not a bool."""
    if pinned is not None and not isinstance(pinned, bool):
        raise ValueError("pinned must be true or false")
    if title is None:
        return None
    if not isinstance(title, str):
        raise ValueError("title must be a string")
    cleaned = " ".join(title.split())
    if not cleaned or len(cleaned) > MAX_TITLE_CHARS:
        raise ValueError(f"a title is 1 to {MAX_TITLE_CHARS} characters (spaces collapsed)")
    return cleaned


def apply_chat_settings(
    metadata: dict[str, Any], title: str | None, pinned: bool | None, by_user: bool
) -> dict[str, Any]:
    changed = dict(metadata or {})
    if pinned is True:
        changed["pinned"] = True
    elif pinned is False:
        changed.pop("pinned", None)
    if title is not None and by_user:
        changed["title_by_user"] = True
    return changed


def pinned_first(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pinned chats first; each group keeps its order (newest first). A stable sort."""
    return sorted(rows, key=lambda row: not (row.get("metadata") or {}).get("pinned"))


class ChatSettingsStatements:
    """Read a session's row for update, write its title and metadata back (one per engine)."""

    def __init__(self, engine: Engine):
        sid = sessions.c.session_id
        dialect = engine.dialect
        # FOR UPDATE on PostgreSQL (SQLite's compiler leaves it out: BEGIN IMMEDIATE serialises writers).
        self.lock_row = Prepared(select(sessions).where(sid == bindparam("sid")).with_for_update(), dialect)
        self.write = Prepared(
            update(sessions)
            .where(sid == bindparam("sid"))
            .values(
                title=bindparam("new_title", type_=sessions.c.title.type),
                metadata=bindparam("new_metadata", type_=sessions.c.metadata.type),
            ),
            dialect,
        )
