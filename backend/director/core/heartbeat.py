"""A running answer re-saved every few seconds, so other processes can tell it is still running.

With several server processes (a message queue), a reader on another process cannot ask the turn
registry whether an answer still ``progress`` in storage is being written or was left by a crashed
process. Its ``updated_at`` tells them apart: while a turn runs, ``Heartbeat`` re-saves its answer
whenever nothing else saved it for ``HEARTBEAT_S`` (streaming saves it far more often); an answer
not saved for ``STALE_AFTER_S`` has no live writer. No Flask here.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

from director.core.stream_saver import save_in_background

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
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="answer-heartbeat", daemon=True)

    def start(self) -> Heartbeat:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()

    def _beat(self) -> None:
        # Checked twice per interval, so a beat is never more than 1.5 intervals after the last save.
        while not self._stopped.wait(self._interval_s / 2):
            output = self._output
            if output.sealed:
                return
            # A turn already finishing pushes its final state itself; a beat must not send a half-made one.
            if output.status != "progress" or time.time() - output.updated_at < self._interval_s:
                continue
            save_in_background(output.push_update, "heartbeat save of a running answer")
