"""SQLite backend: the embedded default, one file, safe under many threads.

Connections are pooled (one per concurrent caller, reused, at most ``max_idle_connections`` kept)
rather than one per thread, because Flask-SocketIO starts a fresh thread per background task and
per-thread connections would pile up. WAL lets readers run while one writer writes; ``BEGIN
IMMEDIATE`` takes the write lock up front so two writers queue on ``busy_timeout`` instead of
failing with "database is locked" mid-transaction. Reads run in autocommit, taking no write lock.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import URL, create_engine, event
from sqlalchemy.pool import QueuePool

from director.db.base import DBType
from director.db.sql import SQLDB


class SQLiteDB(SQLDB):
    db_type = DBType.SQLITE

    def __init__(self, path: str | Path, busy_timeout_s: float = 30.0, max_idle_connections: int = 8):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            URL.create("sqlite", database=str(self.path)),
            paramstyle="named",  # :name placeholders, so statements take the same dicts as psycopg's
            poolclass=QueuePool,
            pool_size=max_idle_connections,
            max_overflow=-1,  # never make a caller wait for a connection; keep only the pool_size idle
            pool_use_lifo=True,  # the most recently used connection first: its page cache is warm
            # check_same_thread=False: a pooled connection is used by one thread at a time, but not
            # always the thread that opened it.
            connect_args={"timeout": busy_timeout_s, "check_same_thread": False},
        )
        busy_timeout_ms = int(busy_timeout_s * 1000)

        @event.listens_for(engine, "connect")
        def _configure(dbapi_conn: Any, _record: Any) -> None:
            # Autocommit: reads take no transaction; writes are begun with BEGIN IMMEDIATE by SQLDB
            # (dialects.begin_write), where the driver's own implicit BEGIN would be DEFERRED.
            dbapi_conn.isolation_level = None
            for pragma in (
                f"busy_timeout = {busy_timeout_ms}",
                "journal_mode = WAL",
                # NORMAL is durable across application crashes in WAL mode (only an OS crash can lose
                # the last commits) and avoids an fsync per write.
                "synchronous = NORMAL",
                "foreign_keys = ON",
            ):
                dbapi_conn.execute(f"PRAGMA {pragma}")

        super().__init__(engine, str(self.path))
        # Migrate eagerly: it is cheap, and a bad path should fail at start-up, not mid-turn.
        self.prepare()
