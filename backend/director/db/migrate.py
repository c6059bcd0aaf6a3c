"""Versioned schema migrations (Alembic), run at start-up, once per database, in one transaction.

The versions live in ``db/migrations/versions/NNNN_name.py``; each file's revision id is its number,
so the head is known from the file names and a database that is already current costs one query,
without importing Alembic (start-up stays fast). A database stamped with a version this code does
not know was made by a newer Director: start-up stops with one ``ConfigError`` line.
"""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import Connection, inspect, text

from director.db.dialects import POSTGRESQL, SQLITE
from director.errors import ConfigError

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "alembic_version"
# Arbitrary constant: serialises migrations across processes starting at the same time on one
# PostgreSQL database. (SQLite serialises them with the migration's BEGIN IMMEDIATE.)
_LOCK_KEY = 0x44495245  # "DIRE"
_LOCATION_SETTING = {SQLITE: "SQLITE_DB_PATH", POSTGRESQL: "POSTGRES_DB"}


def known_revisions() -> list[str]:
    """Revision ids in order: the four-digit prefixes of the version files."""
    return sorted(p.name[:4] for p in (MIGRATIONS_DIR / "versions").glob("[0-9][0-9][0-9][0-9]_*.py"))


def current_revision(conn: Connection) -> str | None:
    """The database's schema version; None for an empty database or one made before migrations."""
    if not inspect(conn).has_table(VERSION_TABLE):
        return None
    return conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()


def migrate(conn: Connection, where: str) -> None:
    """Bring the database behind ``conn`` to the newest schema, inside the caller's write transaction.

    On SQLite that transaction began with ``BEGIN IMMEDIATE``, so concurrent start-ups queue instead of
    racing. PostgreSQL runs DDL transactionally, so a failed step leaves nothing.
    """
    revisions = known_revisions()
    head = revisions[-1]
    if conn.dialect.name == POSTGRESQL:
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
    current = current_revision(conn)
    if current == head:
        return
    if current is not None and current not in revisions:
        setting = _LOCATION_SETTING.get(conn.dialect.name, "DB_TYPE")
        raise ConfigError(
            setting,
            f"a database at schema version {head} or older",
            f"The database at {where} has schema version {current}, newer than this Director "
            f"(which knows up to {head}): upgrade Director, or set {setting} to another database.",
        )
    _upgrade(conn)
    logger.info("database at %s migrated from schema version %s to %s", where, current or "none", head)


def _upgrade(conn: Connection) -> None:
    # Imported only when there is work to do: Alembic adds a few hundred ms to an import.
    from alembic.config import Config
    from alembic.runtime.environment import EnvironmentContext
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    script = ScriptDirectory.from_config(config)

    def steps(revision: object, _context: object) -> object:
        return script._upgrade_revs("head", revision)

    with EnvironmentContext(config, script, fn=steps, destination_rev="head") as env:
        # The caller's transaction holds the whole upgrade; Alembic commits nothing itself.
        env.configure(connection=conn, transactional_ddl=True)
        env.run_migrations()
