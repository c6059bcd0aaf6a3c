"""thread_bridge: emits from native threads reach the hub's queues in order; REST runs off the hub."""

from __future__ import annotations

import threading
from typing import Any

import gevent
from director.entrypoint.api.thread_bridge import HubQueue, ThreadedRequests, start_thread


def test_puts_from_a_native_thread_reach_a_greenlet_on_the_hub_in_order() -> None:
    queue = HubQueue()
    got: list[int] = []

    def reader() -> None:
        for _ in range(500):
            got.append(queue.get())

    greenlet = gevent.spawn(reader)
    # A native thread (start_thread is what Socket.IO's background tasks become): its puts cannot
    # touch the gevent queue itself; each is handed to the hub, which wakes the waiting reader.
    writer = start_thread(lambda: [queue.put(n) for n in range(500)])
    greenlet.join(timeout=10)
    writer.join(5)
    assert got == list(range(500))
    assert queue.unfinished_tasks == 500  # a JoinableQueue still: engine.io's close waits on it


def test_a_put_on_the_hub_thread_is_immediate() -> None:
    queue = HubQueue()
    queue.put("now")
    assert queue.qsize() == 1 and queue.get_nowait() == "now"


def test_requests_other_than_engine_io_run_in_a_native_thread() -> None:
    seen: dict[str, int] = {}

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen[environ["PATH_INFO"]] = threading.get_ident()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"a", b"b"]

    threaded = ThreadedRequests(app, threads=2)
    statuses: list[str] = []

    def start_response(status: str, _headers: list[Any]) -> None:
        statuses.append(status)

    def both() -> tuple[Any, Any]:
        return (
            threaded({"PATH_INFO": "/health"}, start_response),
            threaded({"PATH_INFO": "/socket.io/", "QUERY_STRING": "EIO=4"}, start_response),
        )

    health, engine_io = gevent.spawn(both).get(timeout=10)
    assert health == [b"a", b"b"] and statuses == ["200 OK", "200 OK"]
    assert seen["/health"] != threading.get_ident()  # answered by the pool, the hub kept serving
    assert seen["/socket.io/"] == threading.get_ident()  # engine.io's requests stay on the hub
    threaded.pool.kill()
