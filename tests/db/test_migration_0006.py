"""Migration 0006 (compaction's ``context_summaries``) on a database made by the version before it, on
SQLite and a real PostgreSQL: every session, message, context and usage row is kept, and summaries work."""

from __future__ import annotations

import sqlite3

import psycopg
from director.db.migrate import known_revisions

from tests.db.test_migrations import TOOL_CALL_CONTEXT, _message, open_db, version_of

PREVIOUS = known_revisions()[known_revisions().index("0006") - 1]


def back_to_previous_version(backend: str, storage: str) -> None:
    """The database as the previous version left it: 0006 only adds its table."""
    statements = ["DROP TABLE context_summaries", f"UPDATE alembic_version SET version_num = '{PREVIOUS}'"]
    if backend == "sqlite":
        conn = sqlite3.connect(storage)
        try:
            for statement in statements:
                conn.execute(statement)
            conn.commit()
        finally:
            conn.close()
        return
    with psycopg.connect(storage) as conn:
        for statement in statements:
            conn.execute(statement)


def test_a_database_at_the_previous_version_gets_summaries_and_loses_nothing(
    backend: str, storage: str
) -> None:
    db = open_db(backend, storage)
    try:
        db.create_session("s1", title="Prices — naïve 日本語")
        question = _message("s1", "m1", "input", 10.0)
        question["content"][0]["text"] = "What do the prices of gpt-4o look like?"
        answer = _message("s1", "m2", "output", 11.0)
        for message in (question, answer):
            db.add_or_update_msg_to_conv(message)
        db.add_or_update_context_msg("s1", TOOL_CALL_CONTEXT)
        db.set_session_settings("s1", {"model": "openai/gpt-4o", "reasoning_effort": None})
        before = {
            "session": db.get_session("s1"),
            "conversation": db.get_conversations("s1"),
            "context": db.get_context_messages("s1"),
            "search": db.search_messages("prices"),
        }
    finally:
        db.close()
    assert before["search"] and before["search"][0]["msg_id"] == "m1"
    back_to_previous_version(backend, storage)
    assert version_of(backend, storage) == PREVIOUS

    db = open_db(backend, storage)
    try:
        assert version_of(backend, storage) == known_revisions()[-1]
        assert db.get_session("s1") == before["session"]
        assert db.get_conversations("s1") == before["conversation"]
        assert db.get_context_messages("s1") == TOOL_CALL_CONTEXT == before["context"]
        assert db.search_messages("prices") == before["search"]
        # The new table works on the upgraded database, and a deleted chat takes its summaries along.
        assert db.get_context_summaries("s1") == []
        row = {"through_msg_id": "m1", "covered": 2, "digest": "abc", "summary": "Asked about prices."}
        db.save_context_summary("s1", row)
        assert [{k: r[k] for k in row} for r in db.get_context_summaries("s1")] == [row]
        assert db.delete_session("s1") and db.get_context_summaries("s1") == []
    finally:
        db.close()
