"""``TIMERS``: one thread per process that runs every due timer of every turn, instead of a thread each.

A running turn needs timers: its heartbeat (``core/heartbeat.py``) and the periodic save of a streaming
answer (``core/stream_saver.py``). A ``threading.Timer`` per timer starts and ends a thread each time,
and with a hundred turns streaming at once those starts wait on the GIL behind the turns and cost more
than the timers' own work. Here one thread sleeps until the earliest due time and runs what is due.

The callbacks run on that thread, one after another, so they must be short and must not raise into it
(both users save one message and catch their own errors). A slow database delays other turns' timed
saves, not their turns: on SQLite those writes queue on its single writer anyway. No Flask here.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import threading
from collections.abc import Callable
from time import monotonic

logger = logging.getLogger(__name__)


class Scheduled:
    """A callback due at ``due`` (monotonic seconds); ``cancel()`` makes it a no-op."""

    __slots__ = ("due", "_callback", "cancelled")

    def __init__(self, due: float, callback: Callable[[], None]):
        self.due = due
        self._callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        # Left in the queue until due (never later than the longest timer, a few seconds): waking the
        # thread to remove it would cost more than skipping it then.
        self.cancelled = True

    def run(self) -> None:
        if self.cancelled:
            return
        try:
            self._callback()
        except Exception:
            logger.exception("a timer's callback failed")


class Timers:
    def __init__(self, name: str):
        self._name = name
        self._reset()
        # A forked worker inherits no threads, and maybe a lock some other thread held at the fork.
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self._queue: list[tuple[float, int, Scheduled]] = []
        self._order = itertools.count()  # equal due times run in the order they were scheduled
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

    def call_later(self, delay_s: float, callback: Callable[[], None]) -> Scheduled:
        entry = Scheduled(monotonic() + delay_s, callback)
        with self._changed:
            heapq.heappush(self._queue, (entry.due, next(self._order), entry))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
            elif self._queue[0][2] is entry:
                self._changed.notify()  # due before whatever the thread is sleeping towards
        return entry

    def _run(self) -> None:
        while True:
            with self._changed:
                while True:
                    if not self._queue:
                        self._changed.wait()
                        continue
                    wait_s = self._queue[0][0] - monotonic()
                    if wait_s <= 0:
                        entry = heapq.heappop(self._queue)[2]
                        break
                    self._changed.wait(wait_s)
            entry.run()


TIMERS = Timers("director-timers")
