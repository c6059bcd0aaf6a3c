"""RedisQueue while Redis is away: fail fast, skip Redis for a while, log once; and redact URLs."""

from __future__ import annotations

import logging

from director.entrypoint.api import message_queue
from director.entrypoint.api.message_queue import RedisQueue, ping, redacted_url

from tests.fakes.server_process import free_port


def test_publishing_to_a_dead_redis_tries_once_then_skips_it_and_logs_one_line(caplog, monkeypatch):
    queue = RedisQueue(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    tries = []
    real_publish = queue._publisher.publish

    def counting_publish(*args):
        tries.append(1)
        return real_publish(*args)

    monkeypatch.setattr(queue._publisher, "publish", counting_publish)
    monkeypatch.setattr(message_queue, "_throttled", message_queue.ThrottledLog(message_queue.logger))
    with caplog.at_level(logging.WARNING, logger=message_queue.logger.name):
        for _ in range(50):  # a streaming turn's deltas
            queue._publish({"method": "emit", "event": "chat_delta"})
    assert len(tries) == 1  # the rest fell inside RETRY_AFTER_S
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and "not delivered to other processes" in lines[0] and "chat_delta" in lines[0]


def test_a_password_in_the_url_is_never_shown():
    assert redacted_url("redis://:s3cret@redis.example:6379/0") == "redis://:***@redis.example:6379/0"
    assert redacted_url("redis://user:s3cret@redis.example/0") == "redis://user:***@redis.example/0"
    assert redacted_url("redis://redis.example:6379/0") == "redis://redis.example:6379/0"


def test_ping_says_why_redis_cannot_be_used():
    assert ping(f"redis://127.0.0.1:{free_port()}/0") is not None
