"""Migration 0006 (compaction's ``context_summaries``) on a database made by the version before it, on
SQLite and a real PostgreSQL: every session, message, context and search row is kept, and summaries work."""

from __future__ import annotations

from collections.abc import Callable

from director.db.base import BaseDB
from director.db.migrate import known_revisions

from tests.db.test_migrations import TOOL_CALL_CONTEXT, _message, version_of

PREVIOUS = known_revisions()[known_revisions().index("0006") - 1]


def test_a_database_at_the_previous_version_gets_summaries_and_loses_nothing(
    backend: str, storage: str, db: BaseDB, make_db: Callable[[], BaseDB], raw_sql: Callable[[str], None]
) -> None:
    db.create_session("s1", title="Prices — naïve 日本語")
    question = _message("s1", "m1", "input", 10.0)
    question["content"][0]["text"] = "What do the prices of gpt-4o look like?"
    for message in (question, _message("s1", "m2", "output", 11.0)):
        db.add_or_update_msg_to_conv(message)
    db.add_or_update_context_msg("s1", TOOL_CALL_CONTEXT)
    db.set_session_settings("s1", {"model": "openai/gpt-4o", "reasoning_effort": None})
    before = {
        "session": db.get_session("s1"),
        "conversation": db.get_conversations("s1"),
        "search": db.search_messages("prices"),
    }
    assert before["search"] and before["search"][0]["msg_id"] == "m1"
    # The database as the previous version left it: 0006 only adds its table.
    raw_sql("DROP TABLE context_summaries")
    raw_sql(f"UPDATE alembic_version SET version_num = '{PREVIOUS}'")
    db.close()

    upgraded = make_db()
    upgraded.prepare()
    assert version_of(backend, storage) == known_revisions()[-1]
    assert upgraded.get_session("s1") == before["session"]
    assert upgraded.get_conversations("s1") == before["conversation"]
    assert upgraded.get_context_messages("s1") == TOOL_CALL_CONTEXT
    assert upgraded.search_messages("prices") == before["search"]
    # The new table works on the upgraded database, and a deleted chat takes its summaries along.
    assert upgraded.get_context_summaries("s1") == []
    row = {"through_msg_id": "m1", "covered": 2, "digest": "abc", "summary": "Asked about prices."}
    upgraded.save_context_summary("s1", row)
    assert [{k: r[k] for k in row} for r in upgraded.get_context_summaries("s1")] == [row]
    assert upgraded.delete_session("s1") and upgraded.get_context_summaries("s1") == []
