"""Saving a streaming answer at a bounded interval, so a reload or a crash keeps what was written.

Saving per token would be one database write per delta (hundreds a second across sessions); never
saving until the step ends loses the whole step's text to a reload or a ``kill -9``. ``StreamSaver``
sits between: the first change after a save schedules the next save ``interval_s`` later, on the
process's timer thread (``core/timers.py``), so text is in storage within ``interval_s`` of being written even when the model then goes
quiet, and there is never more than one write per interval. A stream that ends within ``interval_s``
of its first text is never saved here at all: the step's end saves it at once (most short answers
stream in well under a second once the first token is out, so this spares a write and a full-message
emit per step). No Flask here.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from director.core.timers import TIMERS, Scheduled
from director.errors import StorageFullError

logger = logging.getLogger(__name__)

# The default bound on how stale the saved text of a running answer may be (the issue allows 1 s).
DEFAULT_STREAM_SAVE_INTERVAL_S = 0.5


class StreamSaver:
    """Calls ``save`` within ``interval_s`` of each ``changed()``, at most once per interval. Thread-safe."""

    def __init__(self, save: Callable[[], None], interval_s: float = DEFAULT_STREAM_SAVE_INTERVAL_S):
        self._save = save
        self._interval_s = interval_s
        self._lock = threading.Lock()
        self._timer: Scheduled | None = None
        self._closed = False

    def changed(self) -> None:
        """New text exists that storage does not hold yet: make sure a save is on its way."""
        with self._lock:
            if self._closed or self._timer is not None:
                return  # a save is already scheduled; it will take this change along
            # Counted from this first unsaved change (not from the last save): the text may be at most
            # interval_s stale, and saves are still interval_s apart, as the next change comes after one.
            self._timer = TIMERS.call_later(self._interval_s, self._run)

    def close(self) -> None:
        """The stream ended (its caller saves the final state itself): cancel a pending save."""
        with self._lock:
            self._closed = True
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()

    def _run(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._timer = None
        save_in_background(self._save, "periodic save of a streaming answer")


def save_in_background(save: Callable[[], None], what: str) -> None:
    """Run a save made off the turn's own thread, which must never end that thread with an error.

    The turn's own next save meets the same problem and handles it (a full disk ends the turn saying
    so, and ``storage_alarm`` has logged it already), so here a full disk is passed over quietly.
    """
    try:
        save()
    except StorageFullError:
        pass
    except Exception:
        logger.exception("%s failed", what)
