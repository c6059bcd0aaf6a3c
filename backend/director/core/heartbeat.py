"""A running answer re-saved every few seconds, so other processes can tell it is still running.

With several server processes (a message queue), a reader on another process cannot ask the turn
registry whether an answer still ``progress`` in storage is being written or was left by a crashed
process. Its ``updated_at`` tells them apart: while a turn runs, ``Heartbeat`` re-saves its answer
whenever nothing else saved it for ``HEARTBEAT_S`` (streaming saves it far more often); an answer
not saved for ``STALE_AFTER_S`` has no live writer. The checks run on the process's one timer thread
(``core/timers.py``), not on a thread per turn. No Flask here.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

from director.core.stream_saver import save_in_background
from director.core.timers import TIMERS, Scheduled

if TYPE_CHECKING:
    from director.core.session import OutputMessage

HEARTBEAT_S = 5.0
# Three missed beats: a loaded machine or a slow database write must not make a live answer look dead.
STALE_AFTER_S = 3 * HEARTBEAT_S


def recently_saved(message: dict[str, Any], now: float | None = None) -> bool:
    """Whether a stored message was saved recently enough that a turn may still be writing it."""
    updated_at = message.get("updated_at")
    if not isinstance(updated_at, int | float):
        return False
    return (now if now is not None else time.time()) - updated_at < STALE_AFTER_S


class Heartbeat:
    """Re-saves ``output`` when it went ``interval_s`` without a save, until it is final or ``stop()``."""

    def __init__(self, output: OutputMessage, interval_s: float = HEARTBEAT_S):
        self._output = output
        self._interval_s = interval_s
        self._lock = threading.Lock()
        self._stopped = False
        self._next: Scheduled | None = None

    def start(self) -> Heartbeat:
        self._schedule()
        return self

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            if self._next is not None:
                self._next.cancel()

    def _schedule(self) -> None:
        # Checked twice per interval, so a beat is never more than 1.5 intervals after the last save.
        with self._lock:
            if not self._stopped:
                self._next = TIMERS.call_later(self._interval_s / 2, self._check)

    def _check(self) -> None:
        output = self._output
        if output.sealed:
            return
        # A turn already finishing pushes its final state itself; a beat must not send a half-made one.
        if output.status == "progress" and time.time() - output.updated_at >= self._interval_s:
            save_in_background(output.push_update, "heartbeat save of a running answer")
        self._schedule()
