"""Merging a streaming answer's text deltas: at most one ``chat_delta`` per ``DELTA_INTERVAL_S`` per answer.

A provider streams a token or a word per chunk; sent one event each, every chunk costs a Socket.IO
encode per recipient and, in a cluster, a Redis publish plus a decode in every process (measured:
the delta events were half of all events per turn and the cluster's largest cost beyond the turn
itself). A reader cannot tell 40 ms apart, so the first delta after a quiet spell goes out at once (no
added latency for the first token), and what arrives within the next ``DELTA_INTERVAL_S`` is sent as
one merged delta at the end of that interval by one process-wide flusher thread.

Offsets stay exact: a merged delta starts at its first part's offset and its parts are contiguous
(parts that are not, e.g. another block's, flush what is pending first). A whole-message ``chat`` first
flushes what is pending, so the deltas alone still spell the whole answer in order (clients that only
append deltas, like director.client, rely on that). No Flask here.
"""

from __future__ import annotations

from collections.abc import Callable
from time import monotonic
from typing import Any

from director.core.timers import Timers

# 25 events a second at most per streaming answer: smooth to read, a fraction of a token stream's rate.
DELTA_INTERVAL_S = 0.04
# When an answer's lock is held as its delta falls due, the flusher looks again this much later.
BUSY_RETRY_S = 0.005


class DeltaBatcher:
    """One answer's pending delta. Every method is called with the answer's lock held (``lock``)."""

    def __init__(self, lock: Any, send: Callable[[str, int], None], interval_s: float | None = None) -> None:
        self._lock = lock  # the message's lock: the flusher takes it, as append_text holds it
        self._send = send
        self._interval_s = DELTA_INTERVAL_S if interval_s is None else interval_s
        self._last_sent = float("-inf")
        self._parts: list[str] = []
        self._offset = 0
        self._end = 0  # offset just past the pending text
        self._owner: object = None  # the block the pending text belongs to
        self._scheduled = False

    def add(self, owner: object, delta: str, offset: int) -> None:
        if self._parts and (owner is not self._owner or offset != self._end):
            self.flush()  # not a continuation of what is pending: keep both exact
        if not self._parts and monotonic() - self._last_sent >= self._interval_s:
            self._emit(delta, offset)
            return
        if not self._parts:
            self._owner, self._offset = owner, offset
        self._parts.append(delta)
        self._end = offset + len(delta)
        if not self._scheduled:
            self._scheduled = True
            _flusher.call_later(self._last_sent + self._interval_s - monotonic(), self.flush_due)

    def flush_due(self) -> None:
        """The flusher's call, once the interval after the last send has passed."""
        # Never wait for the message's lock: its holder may be saving the whole message (which sends
        # what is pending itself), and one flusher thread serves every answer of the process.
        if not self._lock.acquire(blocking=False):
            _flusher.call_later(BUSY_RETRY_S, self.flush_due)
            return
        try:
            self._scheduled = False
            self.flush()
        finally:
            self._lock.release()

    def flush(self) -> None:
        """Send what is pending now (before a whole message, which must not overtake it)."""
        if self._parts:
            text = "".join(self._parts)
            self._parts = []
            self._emit(text, self._offset)

    def _emit(self, delta: str, offset: int) -> None:
        self._last_sent = monotonic()
        self._send(delta, offset)


# Its own timer thread, not the one of timed saves (core/timers.TIMERS): a save waits on the database,
# and deltas must not wait behind it. One failed send is logged there and stops no other answer's.
_flusher = Timers("delta-flusher")
