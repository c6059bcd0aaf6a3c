"""SQLite backend: the embedded default, one file, safe under many threads.

Connections are pooled (one per concurrent caller, reused) rather than one per thread, because
Flask-SocketIO starts a fresh thread per background task and per-thread connections would pile up.
WAL lets readers run while one writer writes; ``BEGIN IMMEDIATE`` takes the write lock up front so
two writers queue on ``busy_timeout`` instead of failing with "database is locked" mid-transaction.
"""

from __future__ import annotations

import json
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from director.db.base import (
    BaseDB,
    DatabaseClosedError,
    DBType,
    check_context,
    check_message,
    check_metadata,
    check_session_id,
    check_title,
    is_storable_id,
    message_created_at,
    now,
    storage_alarm,
    to_json,
)

logger = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    session_id TEXT PRIMARY KEY,
    title TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS sessions_updated_at ON sessions (updated_at);
CREATE TABLE IF NOT EXISTS conversations (
    session_id TEXT NOT NULL REFERENCES sessions (session_id) ON DELETE CASCADE,
    msg_id TEXT NOT NULL,
    conv_id TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    message TEXT NOT NULL,
    PRIMARY KEY (session_id, msg_id)
);
CREATE TABLE IF NOT EXISTS context_messages (
    session_id TEXT PRIMARY KEY REFERENCES sessions (session_id) ON DELETE CASCADE,
    updated_at REAL NOT NULL,
    messages TEXT NOT NULL
);
"""

# Creating the session row in the same statement as the bump means a message is never dropped
# (or rejected by the foreign key) because the session row was not written first.
_TOUCH_SESSION = """
INSERT INTO sessions (session_id, title, created_at, updated_at, metadata) VALUES (?, NULL, ?, ?, '{}')
ON CONFLICT (session_id) DO UPDATE SET updated_at = excluded.updated_at
"""


class SQLiteDB(BaseDB):
    db_type = DBType.SQLITE

    def __init__(self, path: str | Path, busy_timeout_s: float = 30.0, max_idle_connections: int = 8):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._busy_timeout_s = busy_timeout_s
        self._idle: queue.LifoQueue[sqlite3.Connection] = queue.LifoQueue(maxsize=max_idle_connections)
        self._closed = False
        self._lock = threading.Lock()
        # Create the schema eagerly: it is cheap, and a bad path should fail at start-up, not mid-turn.
        with self._connection() as conn:
            conn.executescript("BEGIN IMMEDIATE;" + _SCHEMA + "COMMIT;")

    def __repr__(self) -> str:
        return f"SQLiteDB({str(self.path)!r})"

    # -- connections -----------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: we issue BEGIN/COMMIT ourselves. check_same_thread=False: a pooled
        # connection is used by one thread at a time, but not always the thread that opened it.
        conn = sqlite3.connect(
            self.path, timeout=self._busy_timeout_s, isolation_level=None, check_same_thread=False
        )
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_s * 1000)}")
        conn.execute("PRAGMA journal_mode = WAL")
        # NORMAL is durable across application crashes in WAL mode (only an OS crash can lose the
        # last commits) and avoids an fsync per write.
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        return conn

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        if self._closed:
            raise DatabaseClosedError(f"{self!r} is closed")
        try:
            conn = self._idle.get_nowait()
        except queue.Empty:
            conn = self._connect()
        try:
            yield conn
        except BaseException:
            # A connection left inside a transaction must not go back to the pool.
            if conn.in_transaction:
                conn.close()
                raise
            self._release(conn)
            raise
        self._release(conn)

    def _release(self, conn: sqlite3.Connection) -> None:
        with self._lock:
            if not self._closed:
                try:
                    self._idle.put_nowait(conn)
                    return
                except queue.Full:
                    pass
        conn.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: committed when the block ends, rolled back if it raises.

        A full disk becomes ``StorageFullError`` (nothing of the transaction was written).
        """
        with self._connection() as conn:
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                except BaseException:
                    # SQLite may have rolled back already (it does on SQLITE_FULL).
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode & 0xFF == sqlite3.SQLITE_FULL:
                    raise storage_alarm.full(str(self.path), exc) from exc
                raise
        storage_alarm.wrote(str(self.path))

    # -- sessions --------------------------------------------------------------------------------

    @staticmethod
    def _session_row(row: sqlite3.Row) -> dict[str, Any]:
        return {
            "session_id": row["session_id"],
            "title": row["title"],
            "created_at": row["created_at"],
            "updated_at": row["updated_at"],
            "metadata": json.loads(row["metadata"]),
        }

    def create_session(
        self, session_id: str, title: str | None = None, metadata: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        check_session_id(session_id)
        check_title(title)
        metadata_json = to_json(check_metadata(metadata))
        ts = now()
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO sessions (session_id, title, created_at, updated_at, metadata) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (session_id) DO NOTHING",
                (session_id, title, ts, ts, metadata_json),
            )
            row = conn.execute("SELECT * FROM sessions WHERE session_id = ?", (session_id,)).fetchone()
        return self._session_row(row)

    def get_session(self, session_id: str) -> dict[str, Any] | None:
        if not is_storable_id(session_id):
            return None  # could never have been stored; PostgreSQL would reject it in a query
        with self._connection() as conn:
            row = conn.execute("SELECT * FROM sessions WHERE session_id = ?", (session_id,)).fetchone()
        return self._session_row(row) if row else None

    def get_sessions(self) -> list[dict[str, Any]]:
        with self._connection() as conn:
            rows = conn.execute(
                "SELECT * FROM sessions ORDER BY updated_at DESC, created_at DESC, session_id"
            ).fetchall()
        return [self._session_row(row) for row in rows]

    def update_session(self, session_id: str, title: str | None = None) -> None:
        check_title(title)
        if not is_storable_id(session_id):
            return
        with self._transaction() as conn:
            if title is None:
                conn.execute("UPDATE sessions SET updated_at = ? WHERE session_id = ?", (now(), session_id))
            else:
                conn.execute(
                    "UPDATE sessions SET title = ?, updated_at = ? WHERE session_id = ?",
                    (title, now(), session_id),
                )

    def delete_session(self, session_id: str) -> bool:
        if not is_storable_id(session_id):
            return False
        with self._transaction() as conn:
            # Conversations and context go with it through ON DELETE CASCADE.
            cursor = conn.execute("DELETE FROM sessions WHERE session_id = ?", (session_id,))
        return cursor.rowcount > 0

    # -- conversation ----------------------------------------------------------------------------

    def add_or_update_msg_to_conv(self, message: dict[str, Any]) -> None:
        check_message(message)
        message_json = to_json(message)
        ts = now()
        session_id = message["session_id"]
        with self._transaction() as conn:
            conn.execute(_TOUCH_SESSION, (session_id, ts, ts))
            conn.execute(
                "INSERT INTO conversations (session_id, msg_id, conv_id, created_at, updated_at, message) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (session_id, msg_id) DO UPDATE SET "
                "conv_id = excluded.conv_id, updated_at = excluded.updated_at, message = excluded.message",
                (
                    session_id,
                    message["msg_id"],
                    message.get("conv_id"),
                    message_created_at(message, ts),
                    ts,
                    message_json,
                ),
            )

    def get_conversations(self, session_id: str) -> list[dict[str, Any]]:
        if not is_storable_id(session_id):
            return []
        with self._connection() as conn:
            # rowid breaks ties in insertion order; an upsert keeps the row's original rowid.
            rows = conn.execute(
                "SELECT message FROM conversations WHERE session_id = ? ORDER BY created_at, rowid",
                (session_id,),
            ).fetchall()
        return [json.loads(row["message"]) for row in rows]

    # -- context ---------------------------------------------------------------------------------

    def get_context_messages(self, session_id: str) -> list[dict[str, Any]]:
        if not is_storable_id(session_id):
            return []
        with self._connection() as conn:
            row = conn.execute(
                "SELECT messages FROM context_messages WHERE session_id = ?", (session_id,)
            ).fetchone()
        return json.loads(row["messages"]) if row else []

    def add_or_update_context_msg(self, session_id: str, messages: list[dict[str, Any]]) -> None:
        check_session_id(session_id)
        messages_json = to_json(check_context(messages))
        ts = now()
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO sessions (session_id, title, created_at, updated_at, metadata) "
                "VALUES (?, NULL, ?, ?, '{}') ON CONFLICT (session_id) DO NOTHING",
                (session_id, ts, ts),
            )
            conn.execute(
                "INSERT INTO context_messages (session_id, updated_at, messages) VALUES (?, ?, ?) "
                "ON CONFLICT (session_id) DO UPDATE SET "
                "updated_at = excluded.updated_at, messages = excluded.messages",
                (session_id, ts, messages_json),
            )

    def finish_unfinished_messages(
        self, updated_before: float, finish: Callable[[dict[str, Any]], dict[str, Any]]
    ) -> int:
        with self._transaction() as conn:
            rows = conn.execute(
                "SELECT session_id, msg_id, message FROM conversations WHERE updated_at < ? "
                "AND json_extract(message, '$.msg_type') = 'output' "
                "AND json_extract(message, '$.status') = 'progress'",
                (updated_before,),
            ).fetchall()
            ts = now()
            for row in rows:
                conn.execute(
                    "UPDATE conversations SET message = ?, updated_at = ? WHERE session_id = ? AND msg_id = ?",
                    (to_json(finish(json.loads(row["message"]))), ts, row["session_id"], row["msg_id"]),
                )
        return len(rows)

    # -- lifecycle -------------------------------------------------------------------------------

    def health_check(self) -> bool:
        try:
            with self._connection() as conn:
                conn.execute("SELECT 1 FROM sessions LIMIT 1").fetchall()
            return True
        except Exception:
            logger.warning("SQLite health check failed for %s", self.path, exc_info=True)
            return False

    def close(self) -> None:
        with self._lock:
            self._closed = True
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                break
