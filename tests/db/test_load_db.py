"""load_db(): backend selection from settings values, and clear start-up errors."""

from __future__ import annotations

import logging
import socket
from pathlib import Path

import director.db
import pytest
from director.constants import DATA_DIR
from director.db import DEFAULT_SQLITE_DB_PATH, DBType, load_db
from director.db.postgres import PostgresDB
from director.db.sqlite import SQLiteDB
from director.errors import ConfigError


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once the socket is closed


def test_default_sqlite_path_is_under_the_data_dir() -> None:
    assert DEFAULT_SQLITE_DB_PATH == DATA_DIR / "director.db"


def test_sqlite_is_the_default_and_uses_the_default_path(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    default = tmp_path / "data" / "director.db"
    monkeypatch.setattr(director.db, "DEFAULT_SQLITE_DB_PATH", default)
    db = load_db()
    try:
        assert isinstance(db, SQLiteDB) and db.db_type is DBType.SQLITE
        assert db.path == default and default.is_file()
    finally:
        db.close()


@pytest.mark.parametrize("db_type", ["sqlite", "SQLite", DBType.SQLITE])
def test_sqlite_path_setting_is_used(tmp_path: Path, db_type: str | DBType) -> None:
    db = load_db(db_type, sqlite_db_path=str(tmp_path / "x" / "mine.db"))
    try:
        db.create_session("s1")
        assert (tmp_path / "x" / "mine.db").is_file()
        assert db.get_session("s1") is not None
    finally:
        db.close()


def test_unknown_db_type_names_the_variable() -> None:
    with pytest.raises(ConfigError) as info:
        load_db("mysql")
    assert info.value.variable == "DB_TYPE"
    assert "sqlite" in info.value.message and "postgres" in info.value.message


def test_unusable_sqlite_path_names_the_variable(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(ConfigError) as info:
        load_db("sqlite", sqlite_db_path=blocker / "director.db")
    assert info.value.variable == "SQLITE_DB_PATH"
    assert str(blocker) in info.value.message


def test_postgres_needs_a_host() -> None:
    with pytest.raises(ConfigError) as info:
        load_db("postgres", postgres_user="u")
    assert info.value.variable == "POSTGRES_HOST"


def test_postgres_does_not_connect_at_load_and_never_leaks_the_password(
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret = "s3cr3t-Pa55word"
    port = _closed_port()
    db = load_db(
        "postgres",
        postgres_host="127.0.0.1",
        postgres_port=port,
        postgres_user="director",
        postgres_password=secret,
        postgres_db="director",
    )
    assert isinstance(db, PostgresDB) and db.db_type is DBType.POSTGRES
    assert secret not in repr(db) and f"127.0.0.1:{port}/director" in repr(db)
    db.close()

    # Against nothing listening: health is False (not an exception), and no log line has the password.
    unreachable = PostgresDB(
        host="127.0.0.1", port=port, user="director", password=secret, pool_timeout_s=0.3
    )
    with caplog.at_level(logging.DEBUG):
        assert unreachable.health_check() is False
    unreachable.close()
    assert "health check failed" in caplog.text
    assert secret not in caplog.text
