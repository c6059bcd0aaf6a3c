"""ThrottledLog: one line per kind per interval, and the next line counts what was left out."""

from __future__ import annotations

import logging

import pytest
from director.log_throttle import ThrottledLog


def test_one_line_per_interval_then_a_count_of_the_rest(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    log = ThrottledLog(logging.getLogger("throttle-test"), every_s=60, clock=lambda: now[0])
    with caplog.at_level(logging.INFO, logger="throttle-test"):
        assert log.info("bad", "bad packet from %s", "a")
        assert not any(log.info("bad", "bad packet from %s", "b") for _ in range(99))
        assert log.info("other", "another kind")  # kinds are throttled separately
        now[0] = 61
        assert log.warning("bad", "bad packet from %s", "c")
    lines = [record.getMessage() for record in caplog.records]
    assert lines == [
        "bad packet from a",
        "another kind",
        "bad packet from c (99 more like it since the last such line)",
    ]


def test_forget_makes_the_next_occurrence_news_again(caplog: pytest.LogCaptureFixture) -> None:
    log = ThrottledLog(logging.getLogger("throttle-test"), every_s=60, clock=lambda: 0.0)
    with caplog.at_level(logging.INFO, logger="throttle-test"):
        assert log.info("full", "disk full")
        assert not log.info("full", "disk full")
        log.forget("full")  # the disk was freed
        assert log.info("full", "disk full")
    assert [record.getMessage() for record in caplog.records] == ["disk full", "disk full"]
