"""Per-chat model settings (``model``, ``reasoning_effort``) on both backends: stored with the session,
returned by every read, kept across reopening, and never touching anything else."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from director.db.base import BaseDB


def test_a_new_session_uses_the_default(db: BaseDB) -> None:
    db.create_session("s1", title="t")
    session = db.get_session("s1")
    assert session is not None
    assert session["model"] is None and session["reasoning_effort"] is None
    # A session first written by its message (the chat path) has them too.
    db.add_or_update_msg_to_conv({"session_id": "s2", "msg_id": "m1", "msg_type": "input"})
    assert db.get_session("s2")["model"] is None


def test_settings_are_stored_partially_and_survive_reopening(
    db: BaseDB, make_db: Callable[[], BaseDB]
) -> None:
    db.create_session("s1", title="kept")
    before = db.get_session("s1")

    after = db.set_session_settings("s1", {"model": "openai/gpt-4o-mini"})
    assert after is not None
    assert after["model"] == "openai/gpt-4o-mini" and after["reasoning_effort"] is None
    after = db.set_session_settings("s1", {"reasoning_effort": "high"})
    assert after["model"] == "openai/gpt-4o-mini" and after["reasoning_effort"] == "high"  # the model kept
    assert after["title"] == "kept" and after["updated_at"] == before["updated_at"]

    reopened = make_db()
    assert reopened.get_session("s1") == after
    assert [s["model"] for s in reopened.get_sessions()] == ["openai/gpt-4o-mini"]

    # None puts a setting back to the default.
    assert reopened.set_session_settings("s1", {"model": None})["model"] is None
    assert reopened.get_session("s1")["reasoning_effort"] == "high"


def test_an_unknown_session_is_not_created(db: BaseDB) -> None:
    assert db.set_session_settings("nope", {"model": "openai/gpt-4o"}) is None
    assert db.get_session("nope") is None


@pytest.mark.parametrize("changes", [{"temperature": "1"}, {"model": 3}, ["model"]])
def test_bad_settings_are_refused_before_any_write(db: BaseDB, changes: object) -> None:
    db.create_session("s1")
    with pytest.raises(ValueError):
        db.set_session_settings("s1", changes)  # type: ignore[arg-type]
    assert db.get_session("s1")["model"] is None
