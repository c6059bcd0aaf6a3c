"""Persistence: pick a backend from the settings with ``load_db(settings)``."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from pydantic import SecretStr

from director.constants import DATA_DIR
from director.db.base import BaseDB, DatabaseClosedError, DBType
from director.errors import ConfigError

DEFAULT_SQLITE_DB_PATH = DATA_DIR / "director.db"

__all__ = ["BaseDB", "DBSettings", "DBType", "DatabaseClosedError", "DEFAULT_SQLITE_DB_PATH", "load_db"]


class DBSettings(Protocol):
    """The settings ``load_db`` reads (``ServerSettings`` has them; the DB layer does not import it)."""

    db_type: DBType
    sqlite_db_path: Path
    postgres_host: str
    postgres_port: int
    postgres_user: str
    postgres_password: SecretStr | None
    postgres_db: str


def load_db(settings: DBSettings) -> BaseDB:
    """Build the backend named by ``DB_TYPE``, its schema migrated (PostgreSQL: on first use).

    PostgreSQL does not connect here, so a server can start before its DB is up.
    Raises ``ConfigError`` for an unusable SQLite path or a database made by a newer Director.
    """
    try:
        kind = DBType(settings.db_type)
    except ValueError:
        raise ConfigError("DB_TYPE", " or ".join(t.value for t in DBType)) from None

    if kind is DBType.SQLITE:
        # Imported here so each backend's driver loads only when chosen.
        import sqlite3

        from sqlalchemy.exc import DBAPIError

        from director.db.sqlite import SQLiteDB

        path = Path(settings.sqlite_db_path)
        try:
            return SQLiteDB(path)
        except (OSError, sqlite3.Error, DBAPIError) as exc:
            raise ConfigError(
                "SQLITE_DB_PATH", "a writable file path", f"SQLITE_DB_PATH={path} cannot be opened: {exc}"
            ) from exc

    from director.db.postgres import PostgresDB

    if not settings.postgres_host:
        raise ConfigError("POSTGRES_HOST", "a host name when DB_TYPE=postgres")
    return PostgresDB(
        host=settings.postgres_host,
        port=settings.postgres_port,
        user=settings.postgres_user,
        password=settings.postgres_password,
        dbname=settings.postgres_db,
    )
