"""/health's probes: cached, never blocking on a dead service, and reporting down/ok truthfully."""

from __future__ import annotations

import threading
import time

from director.entrypoint.api.health import CachedProbe, ServiceState


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_probe_is_cached_for_its_ttl():
    calls = []
    clock = Clock()
    probe = CachedProbe(lambda: calls.append(1) or True, ttl_s=1.0, clock=clock)
    assert probe.state() is ServiceState.OK
    assert probe.state() is ServiceState.OK
    assert len(calls) == 1
    clock.now += 1.5
    assert probe.state() is ServiceState.OK
    assert len(calls) == 2


def test_a_failing_or_raising_check_is_down():
    assert CachedProbe(lambda: False).state() is ServiceState.DOWN

    def broken() -> bool:
        raise ConnectionError("gone")

    assert CachedProbe(broken).state() is ServiceState.DOWN


def test_a_hanging_check_does_not_hold_the_caller_and_one_refresh_runs_at_a_time():
    release = threading.Event()
    started = []

    def hangs() -> bool:
        started.append(1)
        release.wait(5)
        return True

    probe = CachedProbe(hangs, ttl_s=0.0, wait_s=0.05)
    begin = time.monotonic()
    states = [probe.state() for _ in range(5)]
    assert time.monotonic() - begin < 1.0
    assert states == [ServiceState.DOWN] * 5  # nothing known yet, and it is not answering
    assert len(started) == 1
    release.set()
    deadline = time.monotonic() + 5
    while probe.state() is not ServiceState.OK:
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_health_reports_a_database_that_stopped_answering(make_server):
    server = make_server()
    http = server.app.test_client()
    assert http.get("/health").json["database"] == "ok"
    server.db.close()
    time.sleep(1.1)  # past the probe's cache
    body = http.get("/health").json
    assert body["status"] == "ok" and body["database"] == "down"
