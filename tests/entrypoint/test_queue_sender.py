"""BatchSender: events leave in order, many per send, off the caller's thread; bounded; flushed at exit."""

from __future__ import annotations

import threading
import time

from director.entrypoint.api import queue_sender
from director.entrypoint.api.queue_sender import BatchSender, flush_all


def test_the_caller_does_not_wait_for_a_slow_send_and_order_is_kept():
    release = threading.Event()
    batches: list[list[int]] = []

    def slow_send(batch: list[int]) -> None:
        release.wait(5)
        batches.append(batch)

    sender = BatchSender(slow_send, lambda item, why: None)
    started = time.monotonic()
    for n in range(100):
        sender.put(n)
    assert time.monotonic() - started < 0.5, "put never waits for Redis"
    assert not sender.flush(0.05)  # still sending
    release.set()
    assert sender.flush(5)
    assert [n for batch in batches for n in batch] == list(range(100))
    assert len(batches) < 100, "what gathered meanwhile went as one send"


def test_past_the_bound_events_are_dropped_and_said_so(monkeypatch):
    monkeypatch.setattr(queue_sender, "MAX_WAITING", 10)
    release = threading.Event()
    dropped: list[tuple[int, str]] = []
    sender = BatchSender(lambda batch: release.wait(5), lambda item, why: dropped.append((item, why)))
    sender.put(-1)  # taken by the sender thread, which then hangs like a dead Redis
    time.sleep(0.2)
    for n in range(15):
        sender.put(n)
    assert [item for item, _ in dropped] == [10, 11, 12, 13, 14]
    assert "waiting" in dropped[0][1]
    release.set()
    assert sender.flush(5)


def test_a_failing_send_does_not_stop_later_events(caplog):
    sent: list[int] = []

    def send(batch: list[int]) -> None:
        if 0 in batch:
            raise TypeError("not JSON")
        sent.extend(batch)

    sender = BatchSender(send, lambda item, why: None)
    sender.put(0)
    assert sender.flush(5)
    sender.put(1)
    assert sender.flush(5)
    assert sent == [1]
    assert "publishing 1 event(s) to the message queue failed" in caplog.text


def test_flush_all_waits_for_every_sender_as_a_process_exits():
    release = threading.Event()
    sent: list[int] = []

    def send(batch: list[int]) -> None:
        release.wait(0.3)
        sent.extend(batch)

    senders = [BatchSender(send, lambda item, why: None) for _ in range(2)]
    for n, sender in enumerate(senders):
        sender.put(n)
    flush_all(5.0)
    assert sorted(sent) == [0, 1]
