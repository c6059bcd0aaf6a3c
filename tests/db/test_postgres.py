"""PostgreSQL specifics: schema on first use, JSONB, settings-based load, surviving dropped connections."""

from __future__ import annotations

import threading

import psycopg
import pytest
from director.db import load_db
from director.db.postgres import PostgresDB
from director.entrypoint.api.settings import ServerSettings
from psycopg.conninfo import conninfo_to_dict

pytestmark = pytest.mark.postgres


def _tables(dsn: str) -> dict[str, dict[str, str]]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = current_schema()"
        ).fetchall()
    tables: dict[str, dict[str, str]] = {}
    for table, column, data_type in rows:
        tables.setdefault(table, {})[column] = data_type
    return tables


def test_schema_is_created_on_first_use_with_jsonb_columns(postgres_dsn: str) -> None:
    db = PostgresDB(postgres_dsn)
    try:
        assert _tables(postgres_dsn) == {}  # constructing connects to nothing
        db.create_session("s1")
        tables = _tables(postgres_dsn)
    finally:
        db.close()
    assert tables["sessions"]["metadata"] == "jsonb"
    assert tables["conversations"]["message"] == "jsonb"
    assert tables["context_messages"]["messages"] == "jsonb"


def test_many_processes_first_use_at_once(postgres_dsn: str) -> None:
    """Several servers starting together on an empty database must all create/see one schema."""
    dbs = [PostgresDB(postgres_dsn) for _ in range(6)]
    barrier = threading.Barrier(len(dbs))
    errors: list[BaseException] = []

    def first_use(i: int) -> None:
        try:
            barrier.wait()
            dbs[i].create_session(f"s{i}")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=first_use, args=(i,)) for i in range(len(dbs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    try:
        assert not errors, errors
        assert len(dbs[0].get_sessions()) == len(dbs)
    finally:
        for db in dbs:
            db.close()


def test_load_db_from_postgres_settings(postgres_dsn: str) -> None:
    params = conninfo_to_dict(postgres_dsn)
    settings = ServerSettings(
        _env_file=None,
        db_type="postgres",
        postgres_host=params["host"],
        postgres_port=int(params["port"]),
        postgres_user=params["user"],
        postgres_password="ignored-by-trust-auth",
        postgres_db=params["dbname"],
    )
    db = load_db(settings)
    try:
        assert db.health_check() is True
        db.add_or_update_msg_to_conv({"session_id": "s1", "msg_id": "m1", "content": ["ok"]})
        assert db.get_conversations("s1") == [{"session_id": "s1", "msg_id": "m1", "content": ["ok"]}]
    finally:
        db.close()


def test_recovers_when_the_server_drops_its_connections(postgres_dsn: str) -> None:
    db = PostgresDB(postgres_dsn)
    try:
        db.create_session("s1", title="before")
        # Two pooled connections, so the retry must cope with more than one dead one at a time.
        with db._engine.connect(), db._engine.connect():
            pass
        assert db._engine.pool.checkedin() == 2
        # What a PostgreSQL restart or failover does to pooled connections.
        with psycopg.connect(postgres_dsn, autocommit=True) as admin:
            killed = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                "AND application_name = 'director'"
            ).fetchone()[0]
        assert killed >= 1
        assert db.health_check() is True
        db.update_session("s1", title="after")
        assert db.get_session("s1")["title"] == "after"
    finally:
        db.close()


def test_reads_take_no_transaction_and_writes_stay_atomic_after_them(postgres_dsn: str) -> None:
    # Reads run in autocommit (one round trip each, db/dialects.reads_in_autocommit); the pooled
    # connection must be back in transactional mode for the next write, or a failing write would
    # keep its first statements.
    db = PostgresDB(postgres_dsn, pool_max_size=1)  # the read's connection is the write's
    try:
        db.create_session("s1", title="kept")

        def read(cursor: object) -> bool:
            return bool(cursor.connection.autocommit)  # type: ignore[attr-defined]

        assert db._run(read) is True
        rename = db._sql.rename_session

        def failing_write(cursor: object) -> None:
            assert not cursor.connection.autocommit  # type: ignore[attr-defined]
            rename.run(cursor, {"sid": "s1", "ts": 1.0, "new_title": "half-written"})
            raise RuntimeError("the second statement of the write fails")

        with pytest.raises(RuntimeError):
            db._run(failing_write, write=True)
        assert db.get_session("s1")["title"] == "kept"
    finally:
        db.close()


def test_a_read_on_a_lost_connection_is_retried_on_a_new_one(postgres_dsn: str) -> None:
    db = PostgresDB(postgres_dsn, pool_max_size=1)
    try:
        db.create_session("s1", title="still here")
        with psycopg.connect(postgres_dsn, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                "AND application_name = 'director'"
            )
        assert db.get_session("s1")["title"] == "still here"
        db.update_session("s1", title="written after")  # the replacement connection writes in a transaction
        assert db.get_session("s1")["title"] == "written after"
    finally:
        db.close()
