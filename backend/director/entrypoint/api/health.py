"""What ``GET /health`` reports beyond "this process answers": who answered, and whether its message
queue and database are reachable.

A probe of a dead Redis or database can take its connect timeout. ``/health`` is what load balancers
poll, so it never waits for that: each probe's result is cached for ``ttl_s``, one refresh runs at a
time in the background, and a caller waits at most ``wait_s`` for it before answering with the last
known state.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from enum import StrEnum
from typing import Any

logger = logging.getLogger(__name__)

PROBE_TTL_S = 1.0
PROBE_WAIT_S = 0.25


class ServiceState(StrEnum):
    OK = "ok"
    DOWN = "down"
    NONE = "none"  # not configured (no message queue: a single process)


class CachedProbe:
    def __init__(
        self,
        check: Callable[[], bool],
        ttl_s: float = PROBE_TTL_S,
        wait_s: float = PROBE_WAIT_S,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._check = check
        self.ttl_s = ttl_s
        self.wait_s = wait_s
        self._clock = clock
        self._lock = threading.Lock()
        self._state: ServiceState | None = None
        self._checked_at = 0.0
        self._refreshing: threading.Event | None = None

    def state(self) -> ServiceState:
        with self._lock:
            if self._state is not None and self._clock() - self._checked_at < self.ttl_s:
                return self._state
            done = self._refreshing
            if done is None:
                done = self._refreshing = threading.Event()
                threading.Thread(target=self._refresh, args=(done,), name="health-probe", daemon=True).start()
        done.wait(self.wait_s)
        with self._lock:
            # A refresh still running after wait_s leaves the last known state (down before the first).
            return self._state or ServiceState.DOWN

    def _refresh(self, done: threading.Event) -> None:
        try:
            ok = bool(self._check())
        except Exception:
            logger.exception("health probe failed")
            ok = False
        with self._lock:
            self._state = ServiceState.OK if ok else ServiceState.DOWN
            self._checked_at = self._clock()
            self._refreshing = None
        done.set()


def worker_identity(port: int) -> str:
    """``<host>:<port>``: which process answered, for an operator or a test behind a load balancer."""
    return f"{socket.gethostname()}:{port}"


class ServerHealth:
    """The extra fields of ``/health``: ``worker``, ``message_queue`` and ``database`` (ok/down/none)."""

    def __init__(self, worker: str, database: CachedProbe, message_queue: CachedProbe | None):
        self.worker = worker
        self.database = database
        self.message_queue = message_queue

    @classmethod
    def build(cls, settings: Any, db: Any, queue: Any | None) -> ServerHealth:
        """``db`` has ``health_check() -> bool``; ``queue`` (the Redis manager) ``healthy() -> bool``."""
        return cls(
            worker_identity(settings.port),
            CachedProbe(db.health_check),
            CachedProbe(queue.healthy) if queue is not None else None,
        )

    def report(self) -> dict[str, str]:
        queue = self.message_queue.state() if self.message_queue is not None else ServiceState.NONE
        return {"worker": self.worker, "message_queue": queue.value, "database": self.database.state().value}
