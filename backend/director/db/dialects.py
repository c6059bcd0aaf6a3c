"""Every difference between SQLite and PostgreSQL, named, in one place.

Statements, schema and row mapping are written once (``db/sql.py``, ``db/schema.py``) with SQLAlchemy
Core, which compiles each statement with the dialect's placeholders (SQLite's engine is set to the
``named`` style, so both drivers take the same dict of values). What is left differs by nature:

- text scrubbing: what a text or JSON value may not contain (``scrub_text``, ``scrub_json_text``);
- ordering tie-breaks: which column keeps insertion order (``insertion_order``);
- upserts: each dialect's own ``INSERT ... ON CONFLICT`` construct (``insert``), same API in both;
- JSON columns: JSONB on PostgreSQL, JSON text in a TEXT column on SQLite (``db/schema.py``);
- write transactions: SQLite's ``BEGIN IMMEDIATE`` (``begin_write``);
- reading a field of a JSON column in SQL: ``json_extract`` vs ``->>`` (``json_text_field``);
- a full disk: SQLite's ``SQLITE_FULL``, PostgreSQL's SQLSTATE 53100 (``is_disk_full``);
- connections: SQLite's pool and pragmas (``db/sqlite.py``), PostgreSQL's pool and retry after a
  restart (``db/postgres.py``, ``SQLDB._run``).
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from sqlalchemy import ColumnElement, Table, Text, func, literal, literal_column
from sqlalchemy.dialects import postgresql, sqlite

SQLITE = "sqlite"
POSTGRESQL = "postgresql"

_REPLACEMENT = "\ufffd"


def _without_surrogates(text: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "".join(_REPLACEMENT if "\ud800" <= ch <= "\udfff" else ch for ch in text)
    return text


def scrub_text(dialect: str, text: str) -> str:
    """What a TEXT column can hold: UTF-8 only (a lone surrogate cannot be encoded, by either driver);
    PostgreSQL text cannot hold NUL either. Both become U+FFFD; everything else is kept."""
    if dialect == POSTGRESQL and "\x00" in text:
        text = text.replace("\x00", _REPLACEMENT)
    return _without_surrogates(text)


def _scrub_value(dialect: str, value: Any) -> Any:
    if isinstance(value, str):
        return scrub_text(dialect, value)
    if isinstance(value, dict):
        return {_scrub_value(dialect, k): _scrub_value(dialect, v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub_value(dialect, v) for v in value]
    return value


def scrub_json_text(dialect: str, text: str) -> str:
    """JSON text the column accepts. It is ASCII (escaped), so SQLite stores any of it; PostgreSQL's
    JSONB refuses the escapes ``\\u0000`` and lone surrogates, so only then is the value walked."""
    if dialect == POSTGRESQL and ("\\u0000" in text or "\\ud" in text):
        return json.dumps(_scrub_value(dialect, json.loads(text)), allow_nan=False)
    return text


def insertion_order(dialect: str, table: Table) -> ColumnElement[Any]:
    """A column that grows with each insert and is kept by an upsert: SQLite's ``rowid``, PostgreSQL's
    identity column ``seq`` (PostgreSQL has no rowid; SQLite tables made before migrations have no seq)."""
    if dialect == SQLITE:
        return literal_column(f"{table.name}.rowid")
    return literal_column(f"{table.name}.seq")


def insert(dialect: str, table: Table) -> Any:
    """The dialect's INSERT with ``on_conflict_do_update`` / ``on_conflict_do_nothing`` (same API)."""
    return (sqlite.insert if dialect == SQLITE else postgresql.insert)(table)


def upsert(dialect: str, table: Table, keys: list[Any], replace: list[str]) -> Any:
    """INSERT, or on a conflict of ``keys`` overwrite the ``replace`` columns with the new row's values
    (the row's other columns, its creation time among them, stay as they were)."""
    statement = insert(dialect, table)
    return statement.on_conflict_do_update(
        index_elements=keys, set_={column: statement.excluded[column] for column in replace}
    )


def begin_write(dialect: str) -> str | None:
    """What opens a write transaction, when the driver's implicit BEGIN is not the right one.

    SQLite: ``BEGIN IMMEDIATE`` takes the write lock up front, so two writers queue on busy_timeout
    instead of one failing with "database is locked" mid-transaction (its driver runs in autocommit
    mode, see ``db/sqlite.py``). PostgreSQL: psycopg's implicit BEGIN.
    """
    return "BEGIN IMMEDIATE" if dialect == SQLITE else None


def reads_in_autocommit(dialect: str) -> bool:
    """Whether a read runs without a transaction around it.

    PostgreSQL: yes. At its READ COMMITTED level every statement takes its own snapshot, in a
    transaction or not, so a read sees the same rows either way; without one it skips the BEGIN and
    COMMIT round trips (a turn makes two reads, the sidebar one per refresh). SQLite's reads take no
    transaction already (its driver runs in autocommit mode, see ``db/sqlite.py``).
    """
    return dialect == "postgresql"


def json_text_field(dialect: str, column: ColumnElement[Any], key: str) -> ColumnElement[str]:
    """A top-level field of a JSON column, as text, for use in SQL (e.g. in WHERE)."""
    if dialect == SQLITE:
        return func.json_extract(column, f"$.{key}", type_=Text)
    return column.op("->>", return_type=Text)(literal(key, Text))


# PostgreSQL's SQLSTATE for "disk_full"; SQLite reports SQLITE_FULL as the primary result code.
_PG_DISK_FULL = "53100"


def is_disk_full(dialect: str, exc: BaseException) -> bool:
    if dialect == SQLITE:
        return (
            isinstance(exc, sqlite3.Error)
            and getattr(exc, "sqlite_errorcode", 0) & 0xFF == sqlite3.SQLITE_FULL
        )
    return getattr(exc, "sqlstate", None) == _PG_DISK_FULL
