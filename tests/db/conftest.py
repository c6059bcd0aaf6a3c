"""Backends under test: every contract test runs on SQLite (tmp file) and on a real PostgreSQL."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from director.db.base import BaseDB
from director.db.postgres import PostgresDB
from director.db.sqlite import SQLiteDB

from tests.fakes.postgres import (
    PostgresNotInstalled,
    PostgresServer,
    create_database,
    create_schema,
    drop_database,
    drop_schema,
    skip_or_fail_without_postgres,
    start_postgres,
)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One cluster for the whole run (TEST_POSTGRES_DSN, or a throwaway one started here)."""
    try:
        server = start_postgres()
    except PostgresNotInstalled as exc:
        skip_or_fail_without_postgres(str(exc))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_database(postgres_server: PostgresServer) -> Iterator[str]:
    dsn = create_database(postgres_server)
    yield dsn
    drop_database(postgres_server, dsn)


@pytest.fixture
def postgres_dsn(postgres_database: str) -> Iterator[str]:
    """A fresh, empty schema per test (the DSN's search_path), so no test sees another's tables."""
    dsn = create_schema(postgres_database)
    yield dsn
    drop_schema(dsn)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def storage(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where the backend keeps its data: an SQLite file path or a PostgreSQL DSN."""
    if backend == "sqlite":
        return str(tmp_path / "nested" / "dir" / "director.db")
    return request.getfixturevalue("postgres_dsn")


@pytest.fixture
def make_db(backend: str, storage: str) -> Iterator[Callable[[], BaseDB]]:
    """Opens a new handle on the same storage each call (to test reopening); closes them all after."""
    opened: list[BaseDB] = []

    def make() -> BaseDB:
        db: BaseDB = SQLiteDB(storage) if backend == "sqlite" else PostgresDB(storage)
        opened.append(db)
        return db

    yield make
    for db in opened:
        db.close()


@pytest.fixture
def db(make_db: Callable[[], BaseDB]) -> BaseDB:
    return make_db()


@pytest.fixture
def raw_sql(backend: str, storage: str, db: BaseDB) -> Callable[[str], None]:
    """Runs SQL on the storage behind ``db`` through a separate connection (to plant faults)."""
    db.health_check()  # PostgreSQL creates its schema on first use

    def run(statement: str) -> None:
        if backend == "sqlite":
            conn = sqlite3.connect(storage)
            try:
                conn.executescript(statement)
            finally:
                conn.close()
        else:
            with psycopg.connect(storage, autocommit=True) as conn:
                conn.execute(statement)

    return run


@pytest.fixture
def postgres_or_sqlite_twin(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A second, empty storage of the same backend (to compare two databases)."""
    if backend == "sqlite":
        return str(tmp_path / "twin" / "director.db")
    return request.getfixturevalue("postgres_dsn_twin")


@pytest.fixture
def postgres_dsn_twin(postgres_database: str) -> Iterator[str]:
    dsn = create_schema(postgres_database)
    yield dsn
    drop_schema(dsn)
