"""Start-up repair of answers a dead process left "in progress" (the real-server test is in
tests/integration/test_lose_nothing.py); here: the retry when the DB is not reachable yet."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from director.core.session import as_interrupted
from director.entrypoint.api import recovery

from tests.core.memory_db import MemoryDB


class LateDB(MemoryDB):
    """Unreachable for its first ``failures`` calls (PostgreSQL still starting)."""

    def __init__(self, failures: int):
        super().__init__()
        self.failures = failures
        self.cutoffs: list[float] = []
        self.done = threading.Event()

    def finish_unfinished_messages(self, updated_before: float, finish: Any) -> int:
        self.cutoffs.append(updated_before)
        if self.failures:
            self.failures -= 1
            raise ConnectionError("connection refused")
        count = super().finish_unfinished_messages(updated_before, finish)
        self.done.set()
        return count


def test_cut_answers_are_marked_at_once(caplog: pytest.LogCaptureFixture) -> None:
    db = LateDB(failures=0)
    db.add_or_update_msg_to_conv(
        {"session_id": "s", "msg_id": "m", "msg_type": "output", "status": "progress"}
    )
    with caplog.at_level("INFO"):
        recovery.finish_interrupted_answers(db)
    (stored,) = db.get_conversations("s")
    assert stored == as_interrupted(
        {"session_id": "s", "msg_id": "m", "msg_type": "output", "status": "progress"}
    )
    assert stored["status"] == "error"
    assert "marked 1 answer(s) cut by a crash as interrupted" in caplog.text


def test_an_unreachable_db_is_retried_in_the_background_with_the_start_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(recovery, "RETRY_EVERY_S", 0.01)
    db = LateDB(failures=2)
    started = time.time() - 5
    recovery.finish_interrupted_answers(db, started_at=started)  # returns at once
    assert db.done.wait(5)
    # Every attempt only touches rows older than this process: never a turn it runs meanwhile.
    assert db.cutoffs == [started, started, started]
