"""The reusable PostgreSQL test helper: external DSN, missing binaries, skip vs fail."""

from __future__ import annotations

import psycopg
import pytest

import tests.fakes.postgres as pg
from tests.fakes.postgres import PostgresNotInstalled, PostgresServer


def test_missing_binaries_fail_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="PostgreSQL is required when CI is set: no initdb"):
        pg.skip_or_fail_without_postgres("no initdb")


def test_missing_binaries_skip_locally(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="PostgreSQL not available: no initdb"):
        pg.skip_or_fail_without_postgres("no initdb")


def test_start_without_binaries_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(pg.ENV_DSN, raising=False)
    monkeypatch.setattr(pg, "find_pg_bin", lambda: None)
    with pytest.raises(PostgresNotInstalled, match="make system-deps"):
        pg.start_postgres()


@pytest.mark.postgres
def test_external_dsn_is_used_and_left_running(
    monkeypatch: pytest.MonkeyPatch, postgres_server: PostgresServer
) -> None:
    monkeypatch.setenv(pg.ENV_DSN, postgres_server.dsn)
    external = pg.start_postgres()
    assert external.dsn == postgres_server.dsn and external.data_dir is None
    external.stop()  # must not stop a server it did not start
    with psycopg.connect(postgres_server.dsn) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


@pytest.mark.postgres
def test_each_test_database_is_separate_and_dropped(postgres_server: PostgresServer) -> None:
    first, second = pg.create_database(postgres_server), pg.create_database(postgres_server)
    assert first != second
    with psycopg.connect(first) as conn:
        conn.execute("CREATE TABLE only_here (x int)")
    with psycopg.connect(second) as conn:
        assert conn.execute("SELECT to_regclass('only_here')").fetchone() == (None,)
    pg.drop_database(postgres_server, first)
    pg.drop_database(postgres_server, second)
    with pytest.raises(psycopg.OperationalError, match="does not exist"):
        psycopg.connect(first).close()
