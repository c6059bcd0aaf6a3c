"""Renaming and pinning a chat, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from director.db.base import BaseDB
from director.db.chat_settings import MAX_TITLE_CHARS, pinned_first


def test_rename_and_pin_keep_the_order_by_activity_and_the_data(db: BaseDB) -> None:
    db.create_session("old", title="Old chat", metadata={"origin": "ui"})
    db.create_session("new", title="New chat")
    before = {s["session_id"]: s for s in db.get_sessions()}

    renamed = db.update_chat_settings("old", title="  Trip   to Kyōto 🗾 ", pinned=True)
    assert renamed is not None and renamed["title"] == "Trip to Kyōto 🗾"
    assert renamed["metadata"] == {"origin": "ui", "pinned": True, "title_by_user": True}
    stored = {s["session_id"]: s for s in db.get_sessions()}
    assert stored["old"]["title"] == "Trip to Kyōto 🗾"
    assert stored["old"]["updated_at"] == before["old"]["updated_at"], "renaming is not activity"
    assert [s["session_id"] for s in pinned_first(db.get_sessions())] == ["old", "new"]

    unpinned = db.update_chat_settings("old", pinned=False)
    assert unpinned is not None and unpinned["metadata"] == {"origin": "ui", "title_by_user": True}
    assert [s["session_id"] for s in pinned_first(db.get_sessions())] == ["new", "old"]


def test_a_title_written_by_the_model_never_replaces_the_users(db: BaseDB) -> None:
    db.create_session("s", title="first message")
    assert db.update_chat_settings("s", title="Model summary", by_user=False)["title"] == "Model summary"
    db.update_chat_settings("s", title="Mine")
    assert db.update_chat_settings("s", title="Another summary", by_user=False)["title"] == "Mine"
    assert db.get_session("s")["title"] == "Mine"


def test_bad_settings_are_refused_before_any_write(db: BaseDB) -> None:
    db.create_session("s", title="kept")
    for title in ["", "   ", "x" * (MAX_TITLE_CHARS + 1), 42]:
        with pytest.raises(ValueError):
            db.update_chat_settings("s", title=title)
    with pytest.raises(ValueError):
        db.update_chat_settings("s", pinned="yes")
    assert db.get_session("s")["title"] == "kept"
    assert db.update_chat_settings("missing", pinned=True) is None
