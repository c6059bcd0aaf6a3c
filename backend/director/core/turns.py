"""Which sessions have a turn running, so each session runs one turn at a time.

Design choice (documented in the README): a second ``chat`` for a busy session is *rejected* with
``error {code: "session_busy"}`` rather than queued. A queue would hide a stuck turn and make the
UI show answers to messages the user may already have abandoned; rejecting is explicit and the
user can press Stop.

``TurnRegistry`` is the interface the socket layer, REST, the turn runner and the shutdown drain
use; ``LocalTurnRegistry`` is the in-process implementation (one server process). The cluster-wide
one (several processes, entrypoint/api/turn_leases.py) keeps ``claim`` as a lease in Redis and
delivers ``stop`` to the process that runs the turn; ``attach``, ``running`` and ``stop_all`` stay
about this process's own turns, which only it can stop at a safe point and save. No Flask here.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from typing import Protocol

from director.core.session import StopReason
from director.errors import ServerStoppingError, SessionBusyError

# How long a claim waits for a turn that already sent its final answer to release its session.
FINISHING_WAIT_S = 1.0


class Stoppable(Protocol):
    def stop(self, reason: StopReason = StopReason.USER) -> None: ...

    def stop_and_save(self, reason: StopReason = StopReason.SHUTDOWN) -> bool: ...

    @property
    def finished(self) -> bool: ...


def _finishing(engine: Stoppable) -> bool:
    # ReasoningEngine.finishing is true from the moment its final state is set, before it is sent.
    return bool(getattr(engine, "finishing", False)) or engine.finished


class _Turn:
    __slots__ = ("engine", "stop_requested", "stop_reason")

    def __init__(self) -> None:
        self.engine: Stoppable | None = None
        self.stop_requested = False
        self.stop_reason = StopReason.USER


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
    def stop(self, session_id: str, reason: StopReason = StopReason.USER) -> bool:
        """Ask the session's running turn to stop at its next safe point. False when none runs."""

    @abstractmethod
    def is_busy(self, session_id: str) -> bool:
        """Whether a turn runs in the session (anywhere the implementation knows of)."""

    @abstractmethod
    def running(self) -> list[str]:
        """The sessions whose turn this process runs (what a shutdown waits for)."""

    @abstractmethod
    def stop_all(self) -> list[str]:
        """Server shutdown: refuse new turns here and ask every turn this process runs to stop.
        Returns their session ids."""

    @property
    @abstractmethod
    def closed(self) -> bool:
        """True once ``stop_all()`` ran: this process is shutting down."""

    @abstractmethod
    def wait_idle(self, timeout_s: float) -> list[str]:
        """Wait until this process runs no turn, at most ``timeout_s``. Returns those still running."""

    @abstractmethod
    def unfinished(self) -> list[str]:
        """This process's turns that have not sent their final state yet."""

    @abstractmethod
    def engines(self) -> dict[str, Stoppable]:
        """This process's running turns' engines by session (turns still starting have none yet)."""


class LocalTurnRegistry(TurnRegistry):
    """In-process map of session_id -> running turn, under one lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._turns: dict[str, _Turn] = {}
        self._closed = False
        # Signalled whenever a turn is released, so a shutdown waits without polling.
        self._released = threading.Condition(self._lock)

    def claim(self, session_id: str) -> None:
        """Mark the session busy, or raise ``SessionBusyError`` if a turn is already running
        (``ServerStoppingError`` once the server is shutting down)."""
        with self._lock:
            if self._closed:
                raise ServerStoppingError()
            turn = self._turns.get(session_id)
            if turn is not None and turn.engine is not None and _finishing(turn.engine):
                # Its final answer is going out, so the user may already be sending the next message
                # while the turn's thread has only its release left (longer in a cluster: a Redis call).
                self._released.wait_for(lambda: session_id not in self._turns, timeout=FINISHING_WAIT_S)
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
            engine.stop(turn.stop_reason)

    def release(self, session_id: str) -> None:
        with self._lock:
            self._turns.pop(session_id, None)
            self._released.notify_all()

    def stop(self, session_id: str, reason: StopReason = StopReason.USER) -> bool:
        """Ask the running turn to stop at its next safe point. False when nothing is running."""
        with self._lock:
            turn = self._turns.get(session_id)
            if turn is None:
                return False
            if not turn.stop_requested:
                turn.stop_reason = reason
            turn.stop_requested = True
            engine = turn.engine
        if engine is not None:
            engine.stop(reason)
        return True

    def stop_all(self) -> list[str]:
        """Server shutdown: refuse new turns and ask every running one to stop. Returns their session ids."""
        with self._lock:
            self._closed = True
        sessions = self.running()
        for session_id in sessions:
            self.stop(session_id, StopReason.SHUTDOWN)
        return sessions

    @property
    def closed(self) -> bool:
        """True once ``stop_all()`` ran: the server is shutting down."""
        return self._closed

    def wait_idle(self, timeout_s: float) -> list[str]:
        """Wait until no turn runs, at most ``timeout_s``. Returns the sessions still running."""
        with self._lock:
            self._released.wait_for(lambda: not self._turns, timeout=max(0.0, timeout_s))
            return list(self._turns)

    def unfinished(self) -> list[str]:
        """Sessions whose turn has not sent its final state yet (its thread may still be running)."""
        with self._lock:
            return [
                sid for sid, turn in self._turns.items() if turn.engine is None or not turn.engine.finished
            ]

    def engines(self) -> dict[str, Stoppable]:
        """The running turns' engines by session (turns still starting have none yet)."""
        with self._lock:
            return {sid: turn.engine for sid, turn in self._turns.items() if turn.engine is not None}

    def is_busy(self, session_id: str) -> bool:
        with self._lock:
            return session_id in self._turns

    def running(self) -> list[str]:
        with self._lock:
            return list(self._turns)
