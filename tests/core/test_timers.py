"""The process's one timer thread: due callbacks run in time order, cancelled ones never, errors logged."""

from __future__ import annotations

import threading
import time

from director.core.timers import Timers


def test_callbacks_run_in_due_order_and_a_cancelled_one_never() -> None:
    timers = Timers("test-timers")
    ran: list[str] = []
    done = threading.Event()
    timers.call_later(0.3, lambda: (ran.append("late"), done.set()))
    timers.call_later(0.1, lambda: ran.append("early"))
    timers.call_later(0.0, lambda: ran.append("now"))  # earlier than what the thread sleeps towards
    timers.call_later(0.2, lambda: ran.append("cancelled")).cancel()
    assert done.wait(5)
    assert ran == ["now", "early", "late"]


def test_a_failing_callback_is_logged_and_the_thread_goes_on(caplog) -> None:
    timers = Timers("test-timers")
    done = threading.Event()

    def fail() -> None:
        raise RuntimeError("boom")

    timers.call_later(0.0, fail)
    timers.call_later(0.05, done.set)
    assert done.wait(5)
    assert "a timer's callback failed" in caplog.text


def test_many_timers_share_one_thread() -> None:
    timers = Timers("test-timers-shared")
    count = threading.active_count()
    fired = threading.Semaphore(0)
    for i in range(200):
        timers.call_later(0.001 * i, fired.release)
    assert threading.active_count() <= count + 1
    deadline = time.monotonic() + 5
    assert all(fired.acquire(timeout=max(0.0, deadline - time.monotonic())) for _ in range(200))
