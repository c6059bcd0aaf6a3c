"""SQLite specifics: the file, WAL, and waiting for (not failing on) another writer's lock."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from director.db.sqlite import SQLiteDB
from sqlalchemy import event


def _msg(msg_id: str) -> dict:
    return {"session_id": "s1", "msg_id": msg_id, "conv_id": "c1", "msg_type": "input", "content": []}


@pytest.fixture
def sqlite_db(tmp_path: Path):
    db = SQLiteDB(tmp_path / "a" / "b" / "director.db", busy_timeout_s=5)
    yield db
    db.close()


def test_creates_parent_dirs_and_the_file_in_wal_mode(tmp_path: Path, sqlite_db: SQLiteDB) -> None:
    path = tmp_path / "a" / "b" / "director.db"
    assert path.is_file()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        conn.close()
    assert {"sessions", "conversations", "context_messages"} <= tables


def _hold_write_lock(path: Path) -> sqlite3.Connection:
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    return other


def test_a_writer_waits_for_another_writers_lock(sqlite_db: SQLiteDB) -> None:
    other = _hold_write_lock(sqlite_db.path)
    released = threading.Timer(0.2, lambda: other.execute("COMMIT"))
    released.start()
    try:
        sqlite_db.add_or_update_msg_to_conv(_msg("m1"))  # would raise "database is locked" without waiting
    finally:
        released.join()
        other.close()
    assert [m["msg_id"] for m in sqlite_db.get_conversations("s1")] == ["m1"]


def test_a_write_that_cannot_get_the_lock_raises_and_loses_nothing(tmp_path: Path) -> None:
    db = SQLiteDB(tmp_path / "director.db", busy_timeout_s=0.05)
    try:
        db.add_or_update_msg_to_conv(_msg("m1"))
        other = _hold_write_lock(db.path)
        try:
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                db.add_or_update_msg_to_conv(_msg("m2"))
            # Readers are not blocked by a writer in WAL mode.
            assert [m["msg_id"] for m in db.get_conversations("s1")] == ["m1"]
        finally:
            other.execute("ROLLBACK")
            other.close()
        db.add_or_update_msg_to_conv(_msg("m3"))
        assert [m["msg_id"] for m in db.get_conversations("s1")] == ["m1", "m3"]
    finally:
        db.close()


def test_idle_connections_stay_bounded_under_many_threads(tmp_path: Path) -> None:
    # Flask-SocketIO starts a thread per turn: connections must be reused, not one kept per thread.
    db = SQLiteDB(tmp_path / "director.db", max_idle_connections=4)
    barrier = threading.Barrier(16)

    def work(i: int) -> None:
        barrier.wait()
        db.add_or_update_msg_to_conv(_msg(f"m{i}"))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    try:
        assert len(db.get_conversations("s1")) == 16
        assert db._engine.pool.checkedin() <= 4
    finally:
        db.close()
    assert db._engine.pool.checkedin() == 0


def test_writes_take_the_lock_up_front_and_reads_take_none(sqlite_db: SQLiteDB) -> None:
    """BEGIN IMMEDIATE for each write transaction (writers queue on busy_timeout instead of failing
    mid-transaction); reads run in autocommit, so they never hold a transaction open."""
    statements: list[str] = []

    @event.listens_for(sqlite_db._engine, "connect")
    def _trace(dbapi_conn, _record) -> None:
        dbapi_conn.set_trace_callback(statements.append)

    sqlite_db._engine.dispose()  # the next connections are new, and traced
    sqlite_db.add_or_update_msg_to_conv(_msg("m1"))
    # Lines starting "--" are statements FTS5 (the search index) runs inside its own calls and commit.
    write = [s.split()[0] for s in statements if not s.startswith("--")]
    statements.clear()
    sqlite_db.get_conversations("s1")
    sqlite_db.get_session("s1")
    read = [s.split()[0] for s in statements]
    # One transaction, taken up front: the session and message upserts, then the search index's own
    # statements (FTS5 runs some internally), then the commit.
    assert write[:3] == ["BEGIN", "INSERT", "INSERT"] and write[-1] == "COMMIT"
    assert "COMMIT" not in write[:-1] and "BEGIN" not in write[1:]
    assert read == ["SELECT", "SELECT"]
    statements.clear()
    sqlite_db.add_or_update_context_msg("s1", [])
    assert statements[0] == "BEGIN IMMEDIATE" and statements[-1] == "COMMIT"
