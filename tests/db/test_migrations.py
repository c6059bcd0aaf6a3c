"""Schema versions: a database made before migrations is adopted and upgraded with nothing lost; a
database newer than the code is refused with one clear line. On SQLite and a real PostgreSQL."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from director.db.base import BaseDB
from director.db.migrate import MIGRATIONS_DIR, known_revisions
from director.db.postgres import PostgresDB
from director.db.sqlite import SQLiteDB
from director.errors import ConfigError

from tests.db.fixtures.before_migrations import write_old_database

TOOL_CALL_CONTEXT = [
    {"role": "system", "content": "You are Director."},
    {"role": "user", "content": "What does gpt-4o cost? — naïve 日本語 😀"},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "tool": {"name": "pricing", "arguments": {"models": ["gpt-4o"]}},
            }
        ],
    },
    {"role": "tool", "tool_call_id": "call_1", "content": '{"gpt-4o": {"input_cost": 2.5e-06}}'},
    {"role": "assistant", "content": "About $2.50 per million input tokens."},
]


def _message(session_id: str, msg_id: str, msg_type: str, created_at: float, **extra: Any) -> dict[str, Any]:
    return {
        "session_id": session_id,
        "conv_id": "conv-1",
        "msg_id": msg_id,
        "msg_type": msg_type,
        "status": "success" if msg_type == "output" else None,
        "actions": ["Asked the pricing agent"] if msg_type == "output" else [],
        "agents": ["pricing"],
        "content": [
            {"type": "text", "status": "success", "status_message": None, "agent_name": None, "text": msg_id}
        ],
        "stopped": False,
        "client_msg_id": f"client-{msg_id}",
        "created_at": created_at,
        "updated_at": None,
        "metadata": {},
        **extra,
    }


def old_data() -> dict[str, Any]:
    """Two sessions, with tool calls in the conversation and context, and usage on the answers."""
    usage = {
        "llm_calls": 2,
        "model": "openai/gpt-4o",
        "input_tokens": 120,
        "output_tokens": 30,
        "cost_usd": 0.0012,
    }
    answer = _message("s1", "m2", "output", 100.0, usage=usage)
    answer["content"].insert(
        0,
        {
            "type": "text",
            "status": "success",
            "status_message": "Looked up prices",
            "agent_name": "pricing",
            "text": "",
            "data": {"models": [{"name": "gpt-4o", "input_cost": 2.5e-06, "vision": True}]},
        },
    )
    return {
        "sessions": [
            {
                "session_id": "s1",
                "title": "Prices — naïve 日本語 العربية 😀",
                "created_at": 90.0,
                "updated_at": 200.0,
                "metadata": {"origin": "ui"},
            },
            {"session_id": "s2", "title": None, "created_at": 95.0, "updated_at": 150.0, "metadata": {}},
        ],
        "conversations": {
            # m2 and m3 share a creation time: insertion order must survive the upgrade.
            "s1": [_message("s1", "m1", "input", 99.0), answer, _message("s1", "m3", "input", 100.0)],
            "s2": [_message("s2", "m1", "input", 95.0), _message("s2", "m2", "output", 96.0, usage=usage)],
        },
        "context": {"s1": TOOL_CALL_CONTEXT, "s2": TOOL_CALL_CONTEXT[:2]},
    }


def open_db(backend: str, storage: str) -> BaseDB:
    db: BaseDB = SQLiteDB(storage) if backend == "sqlite" else PostgresDB(storage)
    db.prepare()
    return db


def version_of(backend: str, storage: str) -> str | None:
    query = "SELECT version_num FROM alembic_version"
    if backend == "sqlite":
        conn = sqlite3.connect(storage)
        try:
            return conn.execute(query).fetchone()[0]
        finally:
            conn.close()
    with psycopg.connect(storage) as conn:
        return conn.execute(query).fetchone()[0]


def schema_of(backend: str, storage: str) -> dict[str, list[tuple]]:
    """Columns (name, type, not null, default, key), keys and indexes; the version table left out."""
    if backend == "sqlite":
        conn = sqlite3.connect(storage)
        try:
            tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            schema = {t: [tuple(r[1:]) for r in conn.execute(f"PRAGMA table_info({t})")] for t in tables}
            for t in tables:
                schema[f"{t} foreign keys"] = [
                    tuple(r[2:]) for r in conn.execute(f"PRAGMA foreign_key_list({t})")
                ]
            indexes = sorted(
                r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")
            )
        finally:
            conn.close()
    else:
        with psycopg.connect(storage) as conn:
            rows = conn.execute(
                "SELECT table_name, column_name, data_type, is_nullable, column_default, is_identity "
                "FROM information_schema.columns WHERE table_schema = current_schema() "
                "ORDER BY table_name, ordinal_position"
            ).fetchall()
            indexes = sorted(
                r[0]
                for r in conn.execute("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()")
            )
            constraints = sorted(
                (r[0], r[1])
                for r in conn.execute(
                    "SELECT conrelid::regclass::text, pg_get_constraintdef(oid) FROM pg_constraint "
                    "WHERE connamespace = current_schema()::regnamespace"
                )
                if r[0] != "alembic_version"
            )
        schema = {"constraints": constraints}
        for table, *column in rows:
            schema.setdefault(table, []).append(tuple(column))
    schema.pop("alembic_version", None)
    schema["indexes"] = [(i,) for i in indexes if "alembic" not in i]
    return schema


def test_a_database_made_before_migrations_is_upgraded_and_loses_nothing(
    backend: str, storage: str, caplog: pytest.LogCaptureFixture
) -> None:
    data = old_data()
    write_old_database(backend, storage, data)

    with caplog.at_level(logging.INFO):
        db = open_db(backend, storage)
    try:
        assert version_of(backend, storage) == known_revisions()[-1]
        assert "adopting a database made before versioned migrations" in caplog.text
        assert db.get_sessions() == [
            {**session, "model": None, "reasoning_effort": None} for session in data["sessions"]
        ]  # newest first: s1 (updated 200) then s2 (150); no per-chat model yet: the default
        for session_id, messages in data["conversations"].items():
            assert db.get_conversations(session_id) == messages
            assert db.get_context_messages(session_id) == data["context"][session_id]

        # The upgraded database keeps working, and new rows order after the old ones on a tie.
        late = _message("s1", "m4", "input", 100.0)
        db.add_or_update_msg_to_conv(late)
        assert [m["msg_id"] for m in db.get_conversations("s1")] == ["m1", "m2", "m3", "m4"]
        assert db.delete_session("s2") is True
        assert db.get_conversations("s2") == [] and db.get_context_messages("s2") == []
    finally:
        db.close()


def test_migrations_run_once(backend: str, storage: str, caplog: pytest.LogCaptureFixture) -> None:
    write_old_database(backend, storage, old_data())
    with caplog.at_level(logging.INFO, logger="director.db"):
        open_db(backend, storage).close()
        assert caplog.text.count("migrated from schema version none") == 1
        caplog.clear()
        again = open_db(backend, storage)
    try:
        assert "migrated" not in caplog.text and "adopting" not in caplog.text
        assert version_of(backend, storage) == known_revisions()[-1]
        assert len(again.get_conversations("s1")) == 3
    finally:
        again.close()


def test_a_fresh_database_gets_the_same_schema_as_an_adopted_one(
    backend: str, storage: str, make_db: Callable[[], BaseDB], postgres_or_sqlite_twin: str
) -> None:
    make_db().prepare()  # fresh: built by the migrations
    write_old_database(backend, postgres_or_sqlite_twin, {"sessions": [], "conversations": {}, "context": {}})
    open_db(backend, postgres_or_sqlite_twin).close()  # adopted
    fresh = schema_of(backend, storage)
    assert fresh == schema_of(backend, postgres_or_sqlite_twin)
    assert all(fresh[table] for table in ("sessions", "conversations", "context_messages"))
    keys = fresh["constraints"] if backend == "postgres" else fresh["conversations foreign keys"]
    assert any("CASCADE" in str(key) for key in keys)


def test_a_database_newer_than_the_code_stops_with_one_clear_line(
    backend: str, storage: str, db: BaseDB, raw_sql: Callable[[str], None]
) -> None:
    db.create_session("s1", title="kept")
    raw_sql("UPDATE alembic_version SET version_num = '9999'")

    with pytest.raises(ConfigError) as info:
        open_db(backend, storage)
    message = info.value.message
    assert "\n" not in message
    assert "9999" in message and "newer than this Director" in message
    assert info.value.variable == ("SQLITE_DB_PATH" if backend == "sqlite" else "POSTGRES_DB")
    # Nothing was touched: the data is still there for the newer version.
    assert version_of(backend, storage) == "9999"


def test_revision_ids_follow_the_file_names_and_form_one_line() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    script = ScriptDirectory.from_config(config)
    revisions = known_revisions()
    assert revisions[0] == "0001"
    assert script.get_heads() == [revisions[-1]]  # one head: the fast path's "current" is right
    chain = [rev.revision for rev in script.walk_revisions()]
    assert chain == list(reversed(revisions))


def stamp_0001(backend: str, storage: str) -> None:
    """What version 0001 leaves on a database it adopted: the old tables as they were, stamped 0001."""
    statements = [
        "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)",
        "INSERT INTO alembic_version (version_num) VALUES ('0001')",
    ]
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


def test_a_database_at_0001_gets_per_chat_model_settings_and_loses_nothing(
    backend: str, storage: str, caplog: pytest.LogCaptureFixture
) -> None:
    data = old_data()
    write_old_database(backend, storage, data)
    stamp_0001(backend, storage)

    with caplog.at_level(logging.INFO, logger="director.db"):
        db = open_db(backend, storage)
    try:
        assert "migrated from schema version 0001" in caplog.text
        assert version_of(backend, storage) == known_revisions()[-1]
        # Old sessions are intact and use the server's default model (NULL settings).
        assert db.get_sessions() == [
            {**session, "model": None, "reasoning_effort": None} for session in data["sessions"]
        ]
        for session_id, messages in data["conversations"].items():
            assert db.get_conversations(session_id) == messages
            assert db.get_context_messages(session_id) == data["context"][session_id]
        # The new columns work on the upgraded database.
        updated = db.set_session_settings("s2", {"model": "anthropic/claude-x", "reasoning_effort": "low"})
        assert updated is not None and updated["model"] == "anthropic/claude-x"
        assert db.get_session("s2")["reasoning_effort"] == "low"
        assert db.get_session("s1")["model"] is None
    finally:
        db.close()
