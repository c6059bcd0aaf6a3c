"""load_db(): backend selection from settings values, and clear start-up errors."""

from __future__ import annotations

import logging
import socket
from pathlib import Path

import pytest
from director.constants import DATA_DIR
from director.db import DEFAULT_SQLITE_DB_PATH, DBType, load_db
from director.db.postgres import PostgresDB
from director.db.sqlite import SQLiteDB
from director.entrypoint.api.settings import ServerSettings
from director.errors import ConfigError


def db_settings(**values: object) -> ServerSettings:
    """Server settings with every DB field given, so no environment variable leaks in."""
    fields = {
        "db_type": "sqlite",
        "sqlite_db_path": DEFAULT_SQLITE_DB_PATH,
        "postgres_host": "127.0.0.1",
        "postgres_port": 5432,
        "postgres_user": "director",
        "postgres_password": None,
        "postgres_db": "director",
    }
    return ServerSettings(_env_file=None, **{**fields, **values})


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once the socket is closed


def test_default_sqlite_path_is_under_the_data_dir() -> None:
    assert DEFAULT_SQLITE_DB_PATH == DATA_DIR / "director.db"


def test_sqlite_is_the_default_and_uses_the_settings_path(tmp_path: Path) -> None:
    assert ServerSettings.model_fields["db_type"].default is DBType.SQLITE
    assert ServerSettings.model_fields["sqlite_db_path"].default == DEFAULT_SQLITE_DB_PATH
    path = tmp_path / "data" / "director.db"
    db = load_db(db_settings(sqlite_db_path=path))
    try:
        assert isinstance(db, SQLiteDB) and db.db_type is DBType.SQLITE
        assert db.path == path and path.is_file()
    finally:
        db.close()


@pytest.mark.parametrize("db_type", ["sqlite", DBType.SQLITE])
def test_sqlite_path_setting_is_used(tmp_path: Path, db_type: str | DBType) -> None:
    db = load_db(db_settings(db_type=db_type, sqlite_db_path=str(tmp_path / "x" / "mine.db")))
    try:
        db.create_session("s1")
        assert (tmp_path / "x" / "mine.db").is_file()
        assert db.get_session("s1") is not None
    finally:
        db.close()


def test_unknown_db_type_names_the_variable() -> None:
    settings = db_settings()
    object.__setattr__(settings, "db_type", "mysql")  # past the settings' own check, as a caller might
    with pytest.raises(ConfigError) as info:
        load_db(settings)
    assert info.value.variable == "DB_TYPE"
    assert "sqlite" in info.value.message and "postgres" in info.value.message


def test_unusable_sqlite_path_names_the_variable(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(ConfigError) as info:
        load_db(db_settings(sqlite_db_path=blocker / "director.db"))
    assert info.value.variable == "SQLITE_DB_PATH"
    assert str(blocker) in info.value.message


def test_postgres_needs_a_host() -> None:
    with pytest.raises(ConfigError) as info:
        load_db(db_settings(db_type="postgres", postgres_host=""))
    assert info.value.variable == "POSTGRES_HOST"


def test_postgres_does_not_connect_at_load_and_never_leaks_the_password(
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret = "s3cr3t-Pa55word"
    port = _closed_port()
    db = load_db(db_settings(db_type="postgres", postgres_port=port, postgres_password=secret))
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
