"""Which sessions have a turn running, so each session runs one turn at a time.

Design choice (documented in the README): a second ``chat`` for a busy session is *rejected* with
``error {code: "session_busy"}`` rather than queued. A queue would hide a stuck turn and make the
UI show answers to messages the user may already have abandoned; rejecting is explicit and the
user can press Stop.

``TurnRegistry`` is the interface the socket layer, REST, the turn runner and the shutdown drain
use; ``LocalTurnRegistry`` is the in-process implementation (one server process). A cluster-wide
one (several processes) would keep ``claim`` as a lease in shared storage and deliver ``stop`` to
the process that runs the turn; ``attach``, ``running`` and ``stop_all`` stay about this process's
own turns, which only it can stop at a safe point and save. No Flask here.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from typing import Protocol

from director.errors import SessionBusyError


class Stoppable(Protocol):
    def stop(self) -> None: ...


class _Turn:
    __slots__ = ("engine", "stop_requested")

    def __init__(self) -> None:
        self.engine: Stoppable | None = None
        self.stop_requested = False


class TurnRegistry(ABC):
    """Which sessions have a turn running. ``claim`` is the atomic busy check. Thread-safe."""

    @abstractmethod
    def claim(self, session_id: str) -> None:
        """Mark the session busy, or raise ``SessionBusyError`` if a turn is already running."""

    @abstractmethod
    def attach(self, session_id: str, engine: Stoppable) -> None:
        """Register the claimed turn's engine (built after the claim) so ``stop`` can reach it."""

    @abstractmethod
    def release(self, session_id: str) -> None:
        """The turn ended: the session is free again."""

    @abstractmethod
    def stop(self, session_id: str) -> bool:
        """Ask the session's running turn to stop at its next safe point. False when none runs."""

    @abstractmethod
    def is_busy(self, session_id: str) -> bool:
        """Whether a turn runs in the session (anywhere the implementation knows of)."""

    @abstractmethod
    def running(self) -> list[str]:
        """The sessions whose turn this process runs (what a shutdown waits for)."""

    def stop_all(self) -> list[str]:
        """Ask every turn this process runs to stop (server shutdown). Returns their session ids."""
        sessions = self.running()
        for session_id in sessions:
            self.stop(session_id)
        return sessions


class LocalTurnRegistry(TurnRegistry):
    """In-process map of session_id -> running turn, under one lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._turns: dict[str, _Turn] = {}

    def claim(self, session_id: str) -> None:
        """Mark the session busy, or raise ``SessionBusyError`` if a turn is already running."""
        with self._lock:
            if session_id in self._turns:
                raise SessionBusyError(session_id)
            self._turns[session_id] = _Turn()

    def attach(self, session_id: str, engine: Stoppable) -> None:
        """Register the engine once built; a Stop that arrived before it is applied now."""
        with self._lock:
            turn = self._turns.get(session_id)
            if turn is None:
                return
            turn.engine = engine
            stop_now = turn.stop_requested
        if stop_now:
            engine.stop()

    def release(self, session_id: str) -> None:
        with self._lock:
            self._turns.pop(session_id, None)

    def stop(self, session_id: str) -> bool:
        """Ask the running turn to stop at its next safe point. False when nothing is running."""
        with self._lock:
            turn = self._turns.get(session_id)
            if turn is None:
                return False
            turn.stop_requested = True
            engine = turn.engine
        if engine is not None:
            engine.stop()
        return True

    def is_busy(self, session_id: str) -> bool:
        with self._lock:
            return session_id in self._turns

    def running(self) -> list[str]:
        with self._lock:
            return list(self._turns)
