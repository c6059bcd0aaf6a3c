from __future__ import annotations

import threading
from typing import Any

import pytest
from director.core import delta_batcher
from director.core.session import Session

from tests.core.memory_db import MemoryDB


class EmitRecorder:
    """Collects (event, payload) pairs; thread-safe because agents emit from worker threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.events: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, event: str, payload: dict[str, Any]) -> None:
        with self._lock:
            self.events.append((event, payload))

    def of(self, name: str) -> list[dict[str, Any]]:
        with self._lock:
            return [payload for event, payload in self.events if event == name]


@pytest.fixture(autouse=True)
def deltas_unbatched(monkeypatch: pytest.MonkeyPatch) -> None:
    # The engine's tests follow its text stream chunk by chunk (offsets, order, steps); the merging of
    # deltas on the wire is delta_batcher's own subject (test_delta_batcher.py, tests/integration).
    monkeypatch.setattr(delta_batcher, "DELTA_INTERVAL_S", 0.0)


@pytest.fixture
def db() -> MemoryDB:
    return MemoryDB()


@pytest.fixture
def emit() -> EmitRecorder:
    return EmitRecorder()


@pytest.fixture
def session(db: MemoryDB, emit: EmitRecorder) -> Session:
    s = Session(db, emit=emit)
    s.create("hello there")
    return s
