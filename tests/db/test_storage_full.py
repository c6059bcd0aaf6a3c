"""A full disk under each backend, for real: SQLite's file and PostgreSQL's tables on a small tmpfs.

Every write then fails with ``StorageFullError`` (nothing half-written), the operator gets one log
line a minute however many writes are refused, reads keep working, and freeing space is enough:
the same handle writes again, no restart.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from director.db import base as db_base
from director.db import sql as sql_module
from director.db.base import BaseDB, StorageAlarm
from director.db.postgres import PostgresDB
from director.db.sqlite import SQLiteDB
from director.errors import StorageFullError

from tests.db.test_contract import input_message, output_message
from tests.fakes.postgres import PostgresServer, database_on_disk
from tests.fakes.small_disk import SmallDisk, small_disk

BIG = "x" * 2_000_000  # bigger than any free space a filled tmpfs (or SQLite's WAL) has left


@pytest.fixture
def alarm(monkeypatch: pytest.MonkeyPatch) -> StorageAlarm:
    """A fresh rate limiter, so another test's report does not hide this test's."""
    fresh = StorageAlarm(quiet_s=0.0)
    for module in (db_base, sql_module):
        monkeypatch.setattr(module, "storage_alarm", fresh)
    return fresh


@pytest.fixture
def disk() -> Iterator[SmallDisk]:
    with small_disk("24m") as mounted:
        yield mounted


@pytest.fixture
def sqlite_on_disk(disk: SmallDisk) -> Iterator[tuple[BaseDB, SmallDisk, Path]]:
    path = disk.path / "director.db"
    db = SQLiteDB(path)
    yield db, disk, path
    db.close()


@pytest.fixture
def postgres_on_disk(postgres_server: PostgresServer, disk: SmallDisk) -> Iterator[tuple[BaseDB, SmallDisk]]:
    with database_on_disk(postgres_server, disk.path) as dsn:
        db = PostgresDB(dsn)
        try:
            yield db, disk
        finally:
            db.close()
            disk.free()


def ours(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    # caplog also holds other loggers' records: a Socket.IO client an earlier test left closing logs
    # from its own thread ("packet queue is empty, aborting"). The alarm's lines are director.db's.
    return [r for r in caplog.records if r.name.startswith("director.db")]


def check_full_disk_behaviour(db: BaseDB, disk: SmallDisk, caplog: pytest.LogCaptureFixture) -> None:
    db.create_session("kept", title="before")
    before = input_message("kept", "m1", "written before the disk filled")
    db.add_or_update_msg_to_conv(before)

    disk.fill()
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="director.db"):
        for attempt in range(5):
            with pytest.raises(StorageFullError) as refused:
                db.add_or_update_msg_to_conv(input_message("kept", f"big-{attempt}", BIG))
        with pytest.raises(StorageFullError):
            db.create_session("new-session", title="x" * 3_000_000)
        with pytest.raises(StorageFullError):
            db.add_or_update_context_msg("kept", [{"role": "user", "content": BIG}])
    assert refused.value.retry_after_s > 0 and "storage is full" in refused.value.message
    # One line for the operator, not one per refused write; it names the cause and the fix.
    reports = [r for r in caplog.records if "STORAGE FULL" in r.getMessage()]
    assert len(reports) == 1, [r.getMessage() for r in caplog.records]
    assert "Free disk space" in reports[0].getMessage()

    # Nothing half-written, and what was stored reads back.
    assert db.get_session("new-session") is None
    assert db.get_conversations("kept") == [before]
    assert db.get_context_messages("kept") == []

    disk.free()
    with caplog.at_level(logging.INFO, logger="director.db"):
        after = output_message("kept", "m2", status="success", content=[{"type": "text", "text": BIG}])
        db.add_or_update_msg_to_conv(after)  # same handle, no restart
    assert db.get_conversations("kept") == [before, after]
    assert any("writable again" in r.getMessage() for r in caplog.records)


def test_sqlite_full_disk(sqlite_on_disk, alarm, caplog) -> None:
    db, disk, path = sqlite_on_disk
    check_full_disk_behaviour(db, disk, caplog)
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()


@pytest.mark.postgres
def test_postgres_full_disk(postgres_on_disk, alarm, caplog) -> None:
    db, disk = postgres_on_disk
    check_full_disk_behaviour(db, disk, caplog)


def test_writes_that_still_fit_between_refusals_are_not_a_recovery(caplog: pytest.LogCaptureFixture) -> None:
    """A nearly full disk takes small writes between refused big ones: one line, not one per request."""
    alarm = StorageAlarm(interval_s=60, quiet_s=0.05)
    with caplog.at_level(logging.INFO, logger="director.db"):
        for _ in range(5):
            alarm.full("/data/director.db", OSError("database or disk is full"))
            alarm.wrote("/data/director.db")
        assert [r.getMessage()[:12] for r in ours(caplog)] == ["STORAGE FULL"]
        for _ in range(3):  # writable for a while, then full again, and again
            time.sleep(0.06)
            alarm.wrote("/data/director.db")
            alarm.full("/data/director.db", OSError("database or disk is full"))
    # Each kind of line at most once a minute, however often the disk flips between the two.
    messages = [r.getMessage() for r in ours(caplog)]
    assert len(messages) == 2
    assert messages[0].startswith("STORAGE FULL") and "writable again" in messages[1]


def test_full_again_after_the_interval_is_news_again(caplog: pytest.LogCaptureFixture) -> None:
    alarm = StorageAlarm(interval_s=0.1, quiet_s=0.01)
    with caplog.at_level(logging.INFO, logger="director.db"):
        alarm.full("/data/director.db", OSError("database or disk is full"))
        time.sleep(0.12)
        alarm.wrote("/data/director.db")
        alarm.full("/data/director.db", OSError("database or disk is full"))
    messages = [r.getMessage() for r in ours(caplog)]
    assert [m.split(":")[0] for m in messages] == ["STORAGE FULL", "storage writable again", "STORAGE FULL"]


def test_the_operator_line_repeats_once_a_minute(caplog: pytest.LogCaptureFixture) -> None:
    alarm = StorageAlarm(interval_s=0.05)
    cause = OSError("database or disk is full")
    with caplog.at_level(logging.INFO, logger="director.db"):
        for _ in range(3):
            assert isinstance(alarm.full("/data/director.db", cause), StorageFullError)
        time.sleep(0.06)
        alarm.full("/data/director.db", cause)
    lines = [r.getMessage() for r in caplog.records if "STORAGE FULL" in r.getMessage()]
    assert len(lines) == 2
    # The second line counts the refusals left out since the first.
    assert "more like it" not in lines[0] and "(2 more like it since the last such line)" in lines[1]
