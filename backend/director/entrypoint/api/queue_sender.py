"""Publishing to the message queue off the emitting thread, many events per Redis round trip.

A publish made by the thread that emits costs that thread a Redis round trip per event (about 55 us of
CPU in redis-py, measured, plus a wait for the reply and then for the GIL again) and holds a pooled
connection meanwhile: with a hundred turns streaming in one process, the turns queued for connections.
``BatchSender`` takes each event into an in-memory outbox (microseconds) and one thread sends whatever
has gathered as one pipeline (about 18 us per event): one writer, so events leave in the order they
were emitted. The outbox is bounded; past the bound an event is given to ``drop`` (logged as
undeliverable, as during an outage) rather than memory growing while Redis hangs.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)

# A Redis that hangs for a whole command timeout, at a busy process's event rate, fits well inside this.
MAX_WAITING = 20_000
# How long process exit waits for the outbox (a drained turn's final events) to reach Redis.
EXIT_FLUSH_S = 1.0


class BatchSender:
    def __init__(self, send: Callable[[list[Any]], None], drop: Callable[[Any, str], None]) -> None:
        self._send = send  # sends one batch; handles its own errors
        self._drop = drop
        self._cond = threading.Condition()
        self._outbox: deque[Any] = deque()
        self._sending = False
        self._thread: threading.Thread | None = None
        _senders.add(self)

    def put(self, item: Any) -> None:
        with self._cond:
            full = len(self._outbox) >= MAX_WAITING
            if not full:
                self._outbox.append(item)
                if self._thread is None or not self._thread.is_alive():
                    # Started on first use: a server that forks starts it in the worker that emits.
                    self._thread = threading.Thread(target=self._run, name="queue-sender", daemon=True)
                    self._thread.start()
                self._cond.notify_all()
        if full:
            self._drop(item, "too many events waiting for it")

    def flush(self, timeout_s: float) -> bool:
        """Wait until every event put so far was handed to Redis (or dropped). False on timeout."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while self._outbox or self._sending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._outbox:
                    self._cond.wait()
                batch = list(self._outbox)
                self._outbox.clear()
                self._sending = True
            try:
                self._send(batch)
            except Exception:  # the sender must outlive one bad batch, or no event would leave again
                logger.exception("publishing %d event(s) to the message queue failed", len(batch))
            finally:
                with self._cond:
                    self._sending = False
                    self._cond.notify_all()


_senders: weakref.WeakSet[BatchSender] = weakref.WeakSet()


def flush_all(timeout_s: float = EXIT_FLUSH_S) -> None:
    """Give every sender up to ``timeout_s`` (in all) to empty its outbox: a process about to exit
    (a normal exit runs this; the server's drained exit, which skips atexit, calls it itself)."""
    deadline = time.monotonic() + timeout_s
    for sender in list(_senders):
        sender.flush(max(0.0, deadline - time.monotonic()))


atexit.register(flush_all)
