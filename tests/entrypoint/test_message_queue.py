"""RedisQueue while Redis is away: fail fast, skip Redis for a while, log once; redact URLs; a pool that
waits rather than fails under many threads; events for nobody here dropped before decoding."""

from __future__ import annotations

import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from director.entrypoint.api import message_queue
from director.entrypoint.api.message_queue import (
    COMMAND_TIMEOUT_S,
    POOL_CONNECTIONS,
    RedisQueue,
    ping,
    redacted_url,
    redis_client,
    routing_first,
)

from tests.fakes.redis_server import start_redis_server
from tests.fakes.server_process import free_port


def test_publishing_to_a_dead_redis_tries_once_then_skips_it_and_logs_one_line(caplog, monkeypatch):
    queue = RedisQueue(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    tries = []
    real_pipeline = queue._publisher.pipeline

    def counting_pipeline(*args, **kwargs):
        pipe = real_pipeline(*args, **kwargs)
        real_execute = pipe.execute

        def counting_execute(*a, **kw):
            tries.append(1)
            return real_execute(*a, **kw)

        pipe.execute = counting_execute
        return pipe

    monkeypatch.setattr(queue._publisher, "pipeline", counting_pipeline)
    monkeypatch.setattr(message_queue, "_throttled", message_queue.ThrottledLog(message_queue.logger))
    with caplog.at_level(logging.WARNING, logger=message_queue.logger.name):
        for _ in range(50):  # a streaming turn's deltas
            queue._publish({"method": "emit", "event": "chat_delta"})
            time.sleep(0.002)  # spread out, so they do not all go as one batch
        assert queue.sender.flush(5.0)
    assert len(tries) == 1  # the rest fell inside RETRY_AFTER_S
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and "not delivered to other processes" in lines[0] and "chat_delta" in lines[0]


def test_a_password_in_the_url_is_never_shown():
    assert redacted_url("redis://:s3cret@redis.example:6379/0") == "redis://:***@redis.example:6379/0"
    assert redacted_url("redis://user:s3cret@redis.example/0") == "redis://user:***@redis.example/0"
    assert redacted_url("redis://redis.example:6379/0") == "redis://redis.example:6379/0"


def test_ping_says_why_redis_cannot_be_used():
    assert ping(f"redis://127.0.0.1:{free_port()}/0") is not None


def test_more_threads_than_redis_py_default_pool_holds_all_get_their_command_through():
    # redis-py's own pool raised "Too many connections" past 100 concurrent users, which read as
    # Redis being down (200 concurrent turns on 2 processes hit it): events went undelivered.
    server = start_redis_server()
    try:
        client = redis_client(server.url, COMMAND_TIMEOUT_S)
        barrier = threading.Barrier(150)

        def hold_a_connection(i: int) -> object:
            barrier.wait()
            return client.blpop([f"nothing-{i}"], timeout=0.1)  # each holds its connection 0.1 s

        with ThreadPoolExecutor(max_workers=150) as pool:
            results = list(pool.map(hold_a_connection, range(150)))
        assert results == [None] * 150
        assert len(client.connection_pool._connections) <= POOL_CONNECTIONS
    finally:
        server.cleanup()


def _published(message: dict) -> bytes:
    return json.dumps(routing_first(message)).encode()


def test_events_for_no_socket_of_this_process_are_dropped_before_decoding():
    queue = RedisQueue(f"redis://127.0.0.1:{free_port()}/0")
    queue.rooms = {"/chat": {"session-here": {"sid-1": "eio-1"}}}
    event = {"method": "emit", "event": "chat_delta", "data": [{"delta": "x"}], "binary": False}
    event |= {"namespace": "/chat", "skip_sid": None, "callback": None}
    other = "0123456789abcdef0123456789abcdef"
    assert not queue._for_nobody_here(_published(event | {"room": "session-here", "host_id": other}))
    assert queue._for_nobody_here(_published(event | {"room": "session-elsewhere", "host_id": other}))
    # Its own events were delivered here when they were emitted.
    assert queue._for_nobody_here(_published(event | {"room": "session-here", "host_id": queue.host_id}))
    # Another publisher's layout, a broadcast, or another method: decoded in full, as python-socketio does.
    plain = event | {"room": "session-elsewhere", "host_id": other}
    assert not queue._for_nobody_here(json.dumps(plain).encode())
    assert not queue._for_nobody_here(_published(event | {"room": None, "host_id": other}))
    callback = {"method": "callback", "host_id": queue.host_id, "sid": "s", "namespace": "/chat", "id": 1}
    assert not queue._for_nobody_here(_published(callback))


def test_events_reach_another_process_in_the_order_emitted_many_per_round_trip():
    server = start_redis_server()
    sender = RedisQueue(server.url)
    listener = redis_client(server.url, COMMAND_TIMEOUT_S).pubsub(ignore_subscribe_messages=True)
    try:
        listener.subscribe(message_queue.CHANNEL)
        rounds = []
        real_pipeline = sender._publisher.pipeline
        sender._publisher.pipeline = lambda **kw: rounds.append(1) or real_pipeline(**kw)
        emitters = [threading.Thread(target=emit_numbered, args=(sender, t)) for t in range(8)]
        for thread in emitters:
            thread.start()
        for thread in emitters:
            thread.join()
        assert sender.sender.flush(5.0)
        received: list[dict] = []
        deadline = time.monotonic() + 10
        while len(received) < 8 * 200 and time.monotonic() < deadline:
            message = listener.get_message(timeout=1.0)
            if message is not None:
                received.append(json.loads(message["data"]))
        for t in range(8):
            assert [m["data"][0]["n"] for m in received if m["room"] == f"room-{t}"] == list(range(200))
        assert len(rounds) < 8 * 200 / 2, "events were sent several per round trip"
    finally:
        listener.close()
        server.cleanup()


def emit_numbered(queue: RedisQueue, thread: int) -> None:
    for n in range(200):
        queue._publish(
            {"method": "emit", "event": "chat_delta", "data": [{"n": n}], "namespace": "/chat"}
            | {"room": f"room-{thread}", "host_id": queue.host_id}
        )
