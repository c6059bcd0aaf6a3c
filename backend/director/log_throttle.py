"""One log line per kind of event per interval, however often the event happens.

Whatever a client (or someone who is not a client at all) can trigger at will must not be able to
flood the log: the first occurrence is logged, later ones within ``every_s`` are counted, and the
next line says how many were left out.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable


class ThrottledLog:
    def __init__(
        self, logger: logging.Logger, every_s: float = 60.0, clock: Callable[[], float] = time.monotonic
    ):
        self.logger = logger
        self.every_s = every_s
        self._clock = clock
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def log(self, level: int, key: str, message: str, *args: object) -> bool:
        """Log ``message`` unless ``key`` was logged within the interval; returns whether it was."""
        now = self._clock()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self.every_s:
                self._suppressed[key] = self._suppressed.get(key, 0) + 1
                return False
            self._last[key] = now
            left_out = self._suppressed.pop(key, 0)
        if left_out:
            message += " (%d more like it since the last such line)"
            args = (*args, left_out)
        self.logger.log(level, message, *args)
        return True

    def info(self, key: str, message: str, *args: object) -> bool:
        return self.log(logging.INFO, key, message, *args)

    def warning(self, key: str, message: str, *args: object) -> bool:
        return self.log(logging.WARNING, key, message, *args)

    def forget(self, key: str) -> None:
        """The condition behind ``key`` ended: its next occurrence is news again, logged at once."""
        with self._lock:
            self._last.pop(key, None)
            self._suppressed.pop(key, None)
