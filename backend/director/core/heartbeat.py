"""A running answer re-saved every few seconds, so other processes can tell it is still running.

With several server processes (a message queue), a reader on another process cannot ask the turn
registry whether an answer still ``progress`` in storage is being written or was left by a crashed
process. Its ``updated_at`` tells them apart: while a turn runs, ``Heartbeat`` re-saves its answer
whenever nothing else saved it for ``HEARTBEAT_S`` (streaming saves it far more often); an answer
not saved for ``STALE_AFTER_S`` has no live writer.

One thread per process beats for every running answer: a thread started per turn cost more than the
beats themselves (its start waits on the GIL behind a hundred busy turns), and an idle server keeps
that thread asleep. No Flask here.
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
        self.interval_s = interval_s
        self._stopped = False

    def start(self) -> Heartbeat:
        _BEATER.add(self)
        return self

    def stop(self) -> None:
        self._stopped = True
        _BEATER.remove(self)

    def due(self) -> bool:
        """Whether this answer needs a beat now (False from the moment it is final or stopped)."""
        output = self._output
        if self._stopped or output.sealed:
            return False
        # A turn already finishing pushes its final state itself; a beat must not send a half-made one.
        return output.status == "progress" and time.time() - output.updated_at >= self.interval_s

    def beat(self) -> None:
        save_in_background(self._output.push_update, "heartbeat save of a running answer")


class _Beater:
    """The process's one heartbeat thread, started at the first running answer (after any fork)."""

    def __init__(self) -> None:
        self._beats: set[Heartbeat] = set()
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

    def add(self, beat: Heartbeat) -> None:
        with self._changed:
            # Woken only when the thread must check sooner than it planned (it sleeps on an empty set).
            sooner = all(beat.interval_s < other.interval_s for other in self._beats)
            self._beats.add(beat)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="answer-heartbeat", daemon=True)
                self._thread.start()
            elif sooner:
                self._changed.notify()

    def remove(self, beat: Heartbeat) -> None:
        with self._changed:
            self._beats.discard(beat)

    def _run(self) -> None:
        while True:
            with self._changed:
                while not self._beats:
                    self._changed.wait()
                # Checked twice per interval, so a beat is never more than 1.5 intervals after the last save.
                self._changed.wait(min(beat.interval_s for beat in self._beats) / 2)
                due = [beat for beat in self._beats if beat.due()]
            for beat in due:  # one at a time: a beat is one short write, and rarely due at all
                beat.beat()


_BEATER = _Beater()
