"""``SQLDB``: every statement and the row mapping, written once (SQLAlchemy Core) for both backends.

``SQLiteDB`` and ``PostgresDB`` only build the engine (connections, pooling, pragmas). What still
differs between the two dialects is named in ``db/dialects.py``. Errors raised to callers are the
driver's own (``sqlite3`` / ``psycopg``), as before this layer existed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, Row, bindparam, delete, select, update
from sqlalchemy.exc import DBAPIError

from director.db import dialects
from director.db.base import (
    BaseDB,
    DatabaseClosedError,
    check_context,
    check_message,
    check_metadata,
    check_session_id,
    check_title,
    is_storable_id,
    message_created_at,
    now,
    to_json,
)
from director.db.migrate import migrate
from director.db.schema import context_messages, conversations, sessions

logger = logging.getLogger(__name__)

T = TypeVar("T")

# An execution option the SQLite engine reads to open a write transaction with BEGIN IMMEDIATE.
WRITE = "director_write"


class _Statements:
    """Built once per engine: the dialect picks the upsert construct and the insertion-order column."""

    def __init__(self, dialect: str):
        sid = sessions.c.session_id
        insert_session = dialects.insert(dialect, sessions)
        self.create_session = insert_session.on_conflict_do_nothing(index_elements=[sid])
        # Creating the session row in the same statement as the bump means a message is never
        # dropped (or refused by the foreign key) because its session row was not written first.
        self.touch_session = insert_session.on_conflict_do_update(
            index_elements=[sid], set_={"updated_at": insert_session.excluded.updated_at}
        )
        self.get_session = select(sessions).where(sid == bindparam("sid"))
        self.get_sessions = select(sessions).order_by(
            sessions.c.updated_at.desc(), sessions.c.created_at.desc(), sid
        )
        self.update_session = update(sessions).where(sid == bindparam("sid"))
        # Conversations and context go with the session through ON DELETE CASCADE.
        self.delete_session = delete(sessions).where(sid == bindparam("sid"))

        conv = conversations.c
        insert_message = dialects.insert(dialect, conversations)
        self.upsert_message = insert_message.on_conflict_do_update(
            index_elements=[conv.session_id, conv.msg_id],
            set_={
                "conv_id": insert_message.excluded.conv_id,
                "updated_at": insert_message.excluded.updated_at,
                "message": insert_message.excluded.message,
            },
        )
        # Equal creation times keep insertion order; an upsert keeps the row's original position.
        self.get_conversations = (
            select(conv.message)
            .where(conv.session_id == bindparam("sid"))
            .order_by(conv.created_at, dialects.insertion_order(dialect, conversations))
        )

        ctx = context_messages.c
        insert_context = dialects.insert(dialect, context_messages)
        self.upsert_context = insert_context.on_conflict_do_update(
            index_elements=[ctx.session_id],
            set_={
                "updated_at": insert_context.excluded.updated_at,
                "messages": insert_context.excluded.messages,
            },
        )
        self.get_context = select(ctx.messages).where(ctx.session_id == bindparam("sid"))
        self.health = select(sid).limit(1)


def _session_row(row: Row[Any]) -> dict[str, Any]:
    return {
        "session_id": row.session_id,
        "title": row.title,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
        "metadata": row.metadata,
    }


def _new_session(session_id: str, ts: float, title: str | None = None, metadata_json: str = "{}") -> dict:
    return {
        "session_id": session_id,
        "title": title,
        "created_at": ts,
        "updated_at": ts,
        "metadata": metadata_json,
    }


class SQLDB(BaseDB):
    """The BaseDB contract over a SQLAlchemy engine. Subclasses build the engine and name ``where``."""

    def __init__(self, engine: Engine, where: str):
        self._engine = engine
        self._writer = engine.execution_options(**{WRITE: True})
        self._where = where
        self._sql = _Statements(engine.dialect.name)
        self._schema_ready = False
        self._closed = False
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._where!r})"

    # -- connections -----------------------------------------------------------------------------

    def prepare(self) -> None:
        """Bring the schema up to date (once per handle; migrations run once per database).

        Raises ``ConfigError`` when the database was made by a newer Director.
        """
        with self._lock:
            if self._closed:
                raise DatabaseClosedError(f"{self!r} is closed")
            if not self._schema_ready:
                migrate(self._writer, self._where)
                self._schema_ready = True

    def _run(self, work: Callable[[Connection], T], *, write: bool = False) -> T:
        """Run ``work`` in one transaction (writes) or one connection (reads).

        A PostgreSQL restart leaves every pooled connection dead. SQLAlchemy then invalidates the whole
        pool at once (no per-connection back-off), and the work is retried once: only when the
        connection broke, so nothing was committed, and every write here is an idempotent upsert,
        update or delete anyway.
        """
        if self._closed:
            raise DatabaseClosedError(f"{self!r} is closed")
        for attempt in (1, 2):
            try:
                if not self._schema_ready:
                    self.prepare()
                if write:
                    with self._writer.begin() as conn:
                        return work(conn)
                with self._engine.connect() as conn:
                    return work(conn)
            except DBAPIError as exc:
                if attempt == 1 and exc.connection_invalidated:
                    logger.warning("connection to %s was lost (%s); retrying once", self._where, exc.orig)
                    continue
                if exc.orig is None:
                    raise
                raise exc.orig from exc
        raise AssertionError("unreachable")

    # -- sessions --------------------------------------------------------------------------------

    def create_session(
        self, session_id: str, title: str | None = None, metadata: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        check_session_id(session_id)
        check_title(title)
        row = _new_session(session_id, now(), title, to_json(check_metadata(metadata)))

        def work(conn: Connection) -> Row[Any]:
            conn.execute(self._sql.create_session, row)
            return conn.execute(self._sql.get_session, {"sid": session_id}).one()

        return _session_row(self._run(work, write=True))

    def get_session(self, session_id: str) -> dict[str, Any] | None:
        if not is_storable_id(session_id):
            return None  # could never have been stored; PostgreSQL would reject it in a query
        row = self._run(lambda conn: conn.execute(self._sql.get_session, {"sid": session_id}).first())
        return _session_row(row) if row else None

    def get_sessions(self) -> list[dict[str, Any]]:
        rows = self._run(lambda conn: conn.execute(self._sql.get_sessions).all())
        return [_session_row(row) for row in rows]

    def update_session(self, session_id: str, title: str | None = None) -> None:
        check_title(title)
        if not is_storable_id(session_id):
            return
        values: dict[str, Any] = {"sid": session_id, "updated_at": now()}
        if title is not None:
            values["title"] = title
        self._run(lambda conn: conn.execute(self._sql.update_session, values), write=True)

    def delete_session(self, session_id: str) -> bool:
        if not is_storable_id(session_id):
            return False
        result = self._run(
            lambda conn: conn.execute(self._sql.delete_session, {"sid": session_id}), write=True
        )
        return result.rowcount > 0

    # -- conversation ----------------------------------------------------------------------------

    def add_or_update_msg_to_conv(self, message: dict[str, Any]) -> None:
        check_message(message)
        ts = now()
        session_id = message["session_id"]
        row = {
            "session_id": session_id,
            "msg_id": message["msg_id"],
            "conv_id": message.get("conv_id"),
            "created_at": message_created_at(message, ts),
            "updated_at": ts,
            "message": to_json(message),
        }

        def work(conn: Connection) -> None:
            conn.execute(self._sql.touch_session, _new_session(session_id, ts))
            conn.execute(self._sql.upsert_message, row)

        self._run(work, write=True)

    def get_conversations(self, session_id: str) -> list[dict[str, Any]]:
        if not is_storable_id(session_id):
            return []
        return self._run(
            lambda conn: list(conn.execute(self._sql.get_conversations, {"sid": session_id}).scalars())
        )

    # -- context ---------------------------------------------------------------------------------

    def get_context_messages(self, session_id: str) -> list[dict[str, Any]]:
        if not is_storable_id(session_id):
            return []
        messages = self._run(lambda conn: conn.execute(self._sql.get_context, {"sid": session_id}).scalar())
        return messages if messages is not None else []

    def add_or_update_context_msg(self, session_id: str, messages: list[dict[str, Any]]) -> None:
        check_session_id(session_id)
        row = {"session_id": session_id, "updated_at": now(), "messages": to_json(check_context(messages))}

        def work(conn: Connection) -> None:
            conn.execute(self._sql.create_session, _new_session(session_id, row["updated_at"]))
            conn.execute(self._sql.upsert_context, row)

        self._run(work, write=True)

    # -- lifecycle -------------------------------------------------------------------------------

    def health_check(self) -> bool:
        try:
            self._run(lambda conn: conn.execute(self._sql.health).all())
            return True
        except Exception as exc:
            # Driver messages name host, port and user but never the password.
            logger.warning("%s health check failed: %s", self, exc)
            return False

    def close(self) -> None:
        with self._lock:
            self._closed = True
        self._engine.dispose()
