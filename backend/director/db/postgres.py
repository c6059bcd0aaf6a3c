"""PostgreSQL backend (``DB_TYPE=postgres``): psycopg 3 with a connection pool, JSONB columns.

Nothing connects at construction: the pool and the schema are created on first use, so the server
starts even while PostgreSQL is still coming up (``health_check()`` reports it meanwhile).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool
from pydantic import SecretStr

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

T = TypeVar("T")
Conn = psycopg.Connection[dict[str, Any]]

# Arbitrary constant: serialises schema creation across processes starting at the same time,
# since concurrent CREATE TABLE IF NOT EXISTS can still collide in PostgreSQL's catalogs.
_SCHEMA_LOCK_KEY = 0x44495245  # "DIRE"

_SCHEMA = [
    """
    CREATE TABLE IF NOT EXISTS sessions (
        session_id TEXT PRIMARY KEY,
        title TEXT,
        created_at DOUBLE PRECISION NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL,
        metadata JSONB NOT NULL DEFAULT '{}'::jsonb
    )
    """,
    "CREATE INDEX IF NOT EXISTS sessions_updated_at ON sessions (updated_at)",
    """
    CREATE TABLE IF NOT EXISTS conversations (
        seq BIGINT GENERATED ALWAYS AS IDENTITY,
        session_id TEXT NOT NULL REFERENCES sessions (session_id) ON DELETE CASCADE,
        msg_id TEXT NOT NULL,
        conv_id TEXT,
        created_at DOUBLE PRECISION NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL,
        message JSONB NOT NULL,
        PRIMARY KEY (session_id, msg_id)
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS context_messages (
        session_id TEXT PRIMARY KEY REFERENCES sessions (session_id) ON DELETE CASCADE,
        updated_at DOUBLE PRECISION NOT NULL,
        messages JSONB NOT NULL
    )
    """,
]

_TOUCH_SESSION = """
INSERT INTO sessions (session_id, title, created_at, updated_at) VALUES (%s, NULL, %s, %s)
ON CONFLICT (session_id) DO UPDATE SET updated_at = excluded.updated_at
"""


def _replace_unstorable(value: Any) -> Any:
    """PostgreSQL text (hence JSONB) cannot hold NUL or lone UTF-16 surrogates: swap them for U+FFFD."""
    if isinstance(value, str):
        if "\x00" in value:
            value = value.replace("\x00", "\ufffd")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            value = "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in value)
        return value
    if isinstance(value, dict):
        return {_replace_unstorable(k): _replace_unstorable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_replace_unstorable(v) for v in value]
    return value


def to_jsonb_text(value: Any) -> str:
    """JSON text PostgreSQL accepts as JSONB; only strings it cannot store at all are altered."""
    text = to_json(value)
    # ensure_ascii output escapes NUL as \\u0000 and non-BMP/surrogates as \\udXXX; only then walk the value.
    if "\\u0000" in text or "\\ud" in text:
        text = to_json(_replace_unstorable(value))
    return text


class PostgresDB(BaseDB):
    db_type = DBType.POSTGRES

    def __init__(
        self,
        dsn: str | None = None,
        *,
        host: str | None = None,
        port: int | None = None,
        user: str | None = None,
        password: str | SecretStr | None = None,
        dbname: str | None = None,
        pool_min_size: int = 1,
        pool_max_size: int = 10,
        connect_timeout_s: int = 5,
        pool_timeout_s: float = 30.0,
    ):
        if isinstance(password, SecretStr):
            password = password.get_secret_value()
        fields = {"host": host, "port": port, "user": user, "password": password, "dbname": dbname}
        self._conninfo = make_conninfo(
            dsn or "",
            **{k: v for k, v in fields.items() if v not in (None, "")},
            connect_timeout=connect_timeout_s,
            application_name="director",
        )
        parts = conninfo_to_dict(self._conninfo)
        # What logs and repr may show: never the password.
        self._where = f"{parts.get('host', 'localhost')}:{parts.get('port', 5432)}/{parts.get('dbname', '')}"
        self._pool_min_size = pool_min_size
        self._pool_max_size = pool_max_size
        self._pool_timeout_s = pool_timeout_s
        self._pool: ConnectionPool | None = None
        self._schema_ready = False
        self._closed = False
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"PostgresDB({self._where!r})"

    # -- connections -----------------------------------------------------------------------------

    def _get_pool(self, timeout: float | None = None) -> ConnectionPool:
        with self._lock:
            if self._closed:
                raise DatabaseClosedError(f"{self!r} is closed")
            if self._pool is None:
                self._pool = ConnectionPool(
                    self._conninfo,
                    min_size=self._pool_min_size,
                    max_size=self._pool_max_size,
                    timeout=self._pool_timeout_s,
                    name="director-db",
                    open=True,
                )
            pool = self._pool
            if not self._schema_ready:
                with pool.connection(timeout=timeout) as conn:
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK_KEY,))
                    for statement in _SCHEMA:
                        conn.execute(statement)
                self._schema_ready = True
                logger.info("PostgreSQL schema ready at %s", self._where)
            return pool

    def _run(self, work: Callable[[Conn], T], timeout: float | None = None, write: bool = False) -> T:
        """Run ``work`` in one transaction: committed when it returns, rolled back if it raises.

        A full disk becomes ``StorageFullError`` (nothing of the transaction was written).

        A PostgreSQL restart leaves every pooled connection dead. Rather than the pool's ``check``
        (which backs off a second or more per dead connection), we purge them all at once and retry
        the work once: it only retries when the connection broke, so nothing was committed, and every
        write here is an idempotent upsert/update/delete anyway.
        """
        for attempt in (1, 2):
            pool = self._get_pool(timeout)
            conn: Conn | None = None
            try:
                with pool.connection(timeout=timeout) as conn:
                    conn.row_factory = dict_row
                    result = work(conn)
                if write:
                    storage_alarm.wrote(self._where)
                return result
            except psycopg.errors.DiskFull as exc:
                raise storage_alarm.full(self._where, exc) from exc
            except psycopg.OperationalError as exc:
                if attempt == 2 or conn is None or not conn.broken:
                    raise
                logger.warning("PostgreSQL connection to %s was lost (%s); retrying once", self._where, exc)
                pool.check()
        raise AssertionError("unreachable")

    # -- sessions --------------------------------------------------------------------------------

    @staticmethod
    def _session_row(row: dict[str, Any]) -> dict[str, Any]:
        return {
            "session_id": row["session_id"],
            "title": row["title"],
            "created_at": row["created_at"],
            "updated_at": row["updated_at"],
            "metadata": row["metadata"],
        }

    def create_session(
        self, session_id: str, title: str | None = None, metadata: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        check_session_id(session_id)
        check_title(title)
        metadata_json = to_jsonb_text(check_metadata(metadata))
        ts = now()

        def work(conn: Conn) -> dict[str, Any] | None:
            conn.execute(
                "INSERT INTO sessions (session_id, title, created_at, updated_at, metadata) "
                "VALUES (%s, %s, %s, %s, %s::jsonb) ON CONFLICT (session_id) DO NOTHING",
                (session_id, _replace_unstorable(title), ts, ts, metadata_json),
            )
            return conn.execute("SELECT * FROM sessions WHERE session_id = %s", (session_id,)).fetchone()

        return self._session_row(self._run(work, write=True))

    def get_session(self, session_id: str) -> dict[str, Any] | None:
        if not is_storable_id(session_id):
            return None  # could never have been stored; PostgreSQL would reject it in a query
        row = self._run(
            lambda conn: conn.execute(
                "SELECT * FROM sessions WHERE session_id = %s", (session_id,)
            ).fetchone()
        )
        return self._session_row(row) if row else None

    def get_sessions(self) -> list[dict[str, Any]]:
        rows = self._run(
            lambda conn: conn.execute(
                "SELECT * FROM sessions ORDER BY updated_at DESC, created_at DESC, session_id"
            ).fetchall()
        )
        return [self._session_row(row) for row in rows]

    def update_session(self, session_id: str, title: str | None = None) -> None:
        check_title(title)
        if not is_storable_id(session_id):
            return
        params = (_replace_unstorable(title), now(), session_id)
        self._run(
            lambda conn: conn.execute(
                "UPDATE sessions SET title = COALESCE(%s, title), updated_at = %s WHERE session_id = %s",
                params,
            ),
            write=True,
        )

    def delete_session(self, session_id: str) -> bool:
        if not is_storable_id(session_id):
            return False
        # Conversations and context go with it through ON DELETE CASCADE.
        cursor = self._run(
            lambda conn: conn.execute("DELETE FROM sessions WHERE session_id = %s", (session_id,)), write=True
        )
        return cursor.rowcount > 0

    # -- conversation ----------------------------------------------------------------------------

    def add_or_update_msg_to_conv(self, message: dict[str, Any]) -> None:
        check_message(message)
        message_json = to_jsonb_text(message)
        ts = now()
        session_id = message["session_id"]
        row = (
            session_id,
            message["msg_id"],
            message.get("conv_id"),
            message_created_at(message, ts),
            ts,
            message_json,
        )

        def work(conn: Conn) -> None:
            conn.execute(_TOUCH_SESSION, (session_id, ts, ts))
            conn.execute(
                "INSERT INTO conversations (session_id, msg_id, conv_id, created_at, updated_at, message) "
                "VALUES (%s, %s, %s, %s, %s, %s::jsonb) ON CONFLICT (session_id, msg_id) DO UPDATE SET "
                "conv_id = excluded.conv_id, updated_at = excluded.updated_at, message = excluded.message",
                row,
            )

        self._run(work, write=True)

    def get_conversations(self, session_id: str) -> list[dict[str, Any]]:
        if not is_storable_id(session_id):
            return []
        # seq breaks ties in insertion order; an upsert keeps the row's original seq.
        rows = self._run(
            lambda conn: conn.execute(
                "SELECT message FROM conversations WHERE session_id = %s ORDER BY created_at, seq",
                (session_id,),
            ).fetchall()
        )
        return [row["message"] for row in rows]

    # -- context ---------------------------------------------------------------------------------

    def get_context_messages(self, session_id: str) -> list[dict[str, Any]]:
        if not is_storable_id(session_id):
            return []
        row = self._run(
            lambda conn: conn.execute(
                "SELECT messages FROM context_messages WHERE session_id = %s", (session_id,)
            ).fetchone()
        )
        return row["messages"] if row else []

    def add_or_update_context_msg(self, session_id: str, messages: list[dict[str, Any]]) -> None:
        check_session_id(session_id)
        messages_json = to_jsonb_text(check_context(messages))
        ts = now()

        def work(conn: Conn) -> None:
            conn.execute(
                "INSERT INTO sessions (session_id, title, created_at, updated_at) VALUES (%s, NULL, %s, %s) "
                "ON CONFLICT (session_id) DO NOTHING",
                (session_id, ts, ts),
            )
            conn.execute(
                "INSERT INTO context_messages (session_id, updated_at, messages) VALUES (%s, %s, %s::jsonb) "
                "ON CONFLICT (session_id) DO UPDATE SET "
                "updated_at = excluded.updated_at, messages = excluded.messages",
                (session_id, ts, messages_json),
            )

        self._run(work, write=True)

    def finish_unfinished_messages(
        self, updated_before: float, finish: Callable[[dict[str, Any]], dict[str, Any]]
    ) -> int:
        def work(conn: Conn) -> int:
            rows = conn.execute(
                "SELECT session_id, msg_id, message FROM conversations WHERE updated_at < %s "
                "AND message->>'msg_type' = 'output' AND message->>'status' = 'progress' FOR UPDATE",
                (updated_before,),
            ).fetchall()
            ts = now()
            for row in rows:
                conn.execute(
                    "UPDATE conversations SET message = %s::jsonb, updated_at = %s "
                    "WHERE session_id = %s AND msg_id = %s",
                    (to_jsonb_text(finish(row["message"])), ts, row["session_id"], row["msg_id"]),
                )
            return len(rows)

        return self._run(work, write=True)

    # -- lifecycle -------------------------------------------------------------------------------

    def health_check(self) -> bool:
        try:
            self._run(
                lambda conn: conn.execute("SELECT 1").fetchone(), timeout=min(5.0, self._pool_timeout_s)
            )
            return True
        except Exception as exc:
            # psycopg's messages name host, port and user but never the password.
            logger.warning("PostgreSQL health check failed for %s: %s", self._where, exc)
            return False

    def close(self) -> None:
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()
