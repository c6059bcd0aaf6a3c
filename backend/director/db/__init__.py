"""Persistence: pick a backend from settings with ``load_db()``."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from director.constants import DATA_DIR
from director.db.base import BaseDB, DatabaseClosedError, DBType
from director.errors import ConfigError

DEFAULT_SQLITE_DB_PATH = DATA_DIR / "director.db"

__all__ = ["BaseDB", "DBType", "DatabaseClosedError", "DEFAULT_SQLITE_DB_PATH", "load_db"]


def load_db(
    db_type: DBType | str = DBType.SQLITE,
    *,
    sqlite_db_path: str | Path | None = None,
    postgres_dsn: str | None = None,
    postgres_host: str | None = None,
    postgres_port: int | None = None,
    postgres_user: str | None = None,
    postgres_password: str | SecretStr | None = None,
    postgres_db: str | None = None,
) -> BaseDB:
    """Build the backend named by ``DB_TYPE``; keyword names mirror the settings' env variables.

    PostgreSQL does not connect here (first use does), so a server can start before its DB is up.
    """
    try:
        kind = DBType(db_type.lower() if isinstance(db_type, str) else db_type)
    except ValueError:
        raise ConfigError("DB_TYPE", " or ".join(t.value for t in DBType)) from None

    if kind is DBType.SQLITE:
        # Imported here so each backend's driver loads only when chosen.
        import sqlite3

        from director.db.sqlite import SQLiteDB

        path = Path(sqlite_db_path or DEFAULT_SQLITE_DB_PATH)
        try:
            return SQLiteDB(path)
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(
                "SQLITE_DB_PATH", "a writable file path", f"SQLITE_DB_PATH={path} cannot be opened: {exc}"
            ) from exc

    from director.db.postgres import PostgresDB

    if not postgres_dsn and not postgres_host:
        raise ConfigError("POSTGRES_HOST", "a host name when DB_TYPE=postgres")
    return PostgresDB(
        postgres_dsn,
        host=postgres_host,
        port=postgres_port,
        user=postgres_user,
        password=postgres_password,
        dbname=postgres_db,
    )
