"""ClusterTurnRegistry against a real redis-server and a real SQLite database: two registries stand
for two server processes (a registry whose background work never runs stands for a killed one)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from director.core.session import StopReason
from director.db.sqlite import SQLiteDB
from director.entrypoint.api.turn_leases import ACTIVE_SET, ClusterTurnRegistry, lease_key
from director.errors import ServerStoppingError, SessionBusyError

from tests.db.test_contract import output_message
from tests.fakes.redis_server import RedisServer, start_redis_server

LEASE_S = 1.0


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    server = start_redis_server()
    yield server
    server.cleanup()


@pytest.fixture
def db(tmp_path: Path) -> Iterator[SQLiteDB]:
    database = SQLiteDB(tmp_path / "director.db")
    yield database
    database.close()


@pytest.fixture
def make(redis_server: RedisServer, db: SQLiteDB) -> Iterator:
    if not redis_server.alive():
        redis_server.start()
    made: list[ClusterTurnRegistry] = []

    def make_registry(start: bool = False) -> ClusterTurnRegistry:
        registry = ClusterTurnRegistry.for_db(redis_server.url, LEASE_S, db)
        made.append(registry)
        if start:
            registry.start()
        return registry

    yield make_registry
    for registry in made:
        registry.close()
    if redis_server.alive():
        made[0]._link.client.flushall()


class Engine:
    def __init__(self) -> None:
        self.stops: list[StopReason] = []
        self.finished = False

    def stop(self, reason: StopReason = StopReason.USER) -> None:
        self.stops.append(reason)

    def stop_and_save(self, reason: StopReason = StopReason.SHUTDOWN) -> bool:
        return True


def wait_until(condition, timeout_s: float = 10.0) -> float:
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < timeout_s, "condition not met in time"
        time.sleep(0.02)
    return time.monotonic() - start


def statuses(db: SQLiteDB, session_id: str) -> list[str]:
    return [m["status"] for m in db.get_conversations(session_id)]


def test_a_session_busy_on_one_process_is_busy_on_every_other(make):
    first, second = make(), make()
    first.claim("s1")
    started = time.monotonic()
    with pytest.raises(SessionBusyError):
        second.claim("s1")
    assert time.monotonic() - started < 0.5  # at once, not after a timeout
    assert second.is_busy("s1") and not second.running()  # busy there, run here
    second.claim("s2")  # other sessions are free
    first.release("s1")
    assert not second.is_busy("s1")
    second.claim("s1")
    with pytest.raises(SessionBusyError):
        first.claim("s1")


def test_a_process_shutting_down_refuses_new_turns_but_releases_its_claims(make):
    first, second = make(), make()
    first.claim("s1")
    assert first.stop_all() == ["s1"]
    with pytest.raises(ServerStoppingError):
        first.claim("s2")
    first.release("s1")
    second.claim("s1")


def test_stop_sent_to_any_process_stops_the_turn_where_it_runs(make):
    runner, other = make(start=True), make(start=True)
    wait_until(lambda: runner.listening and other.listening)
    engine = Engine()
    runner.claim("s1")
    runner.attach("s1", engine)
    assert other.stop("s1") is True
    wait_until(lambda: engine.stops == [StopReason.USER], timeout_s=5)
    assert other.stop("idle-session") is False  # nothing runs there: a no-op, as on one process


def test_a_dead_process_lease_expires_its_answer_is_marked_interrupted_and_the_session_goes_on(make, db):
    dead = make()  # claims, then never renews: killed with -9
    survivor = make(start=True)
    db.add_or_update_msg_to_conv(output_message("s1", "kept", status="success"))
    dead.claim("s1")
    db.add_or_update_msg_to_conv(output_message("s1", "cut"))
    survivor_turn = make(start=True)
    survivor_turn.claim("s2")  # a live turn on a live process: renewed, never touched
    db.add_or_update_msg_to_conv(output_message("s2", "elsewhere"))
    with pytest.raises(SessionBusyError):
        survivor.claim("s1")  # the lease still holds
    took = wait_until(lambda: statuses(db, "s1") == ["success", "error"], timeout_s=4 * LEASE_S + 5)
    assert took <= 2 * LEASE_S + 2  # the documented bound (2 x lease), with slack for a loaded machine
    cut = db.get_conversations("s1")[1]
    assert "interrupted" in cut["content"][0]["status_message"].lower()
    survivor.claim("s1")  # the session continues on another process
    assert statuses(db, "s2") == ["progress"]
    assert survivor_turn.is_busy("s2")


def test_a_new_claim_after_the_lease_expired_repairs_the_cut_answer_at_once(make, db):
    dead, other = make(), make()  # neither sweeps
    dead.claim("s1")
    db.add_or_update_msg_to_conv(output_message("s1", "cut"))
    wait_until(lambda: not other.is_busy("s1"), timeout_s=LEASE_S + 3)
    other.claim("s1")
    assert statuses(db, "s1") == ["error"]


def test_a_live_turn_whose_lease_redis_lost_is_never_taken_for_dead(make, db):
    runner, sweeper = make(), make()
    runner.claim("s1")
    db.add_or_update_msg_to_conv(output_message("s1", "live"))
    runner._link.client.flushall()  # Redis restarted without its data
    assert sweeper.sweep() == []  # first sighting only
    runner.renew()  # the owner's next renewal writes its lease back
    time.sleep(2 * sweeper.renew_every_s)
    assert sweeper.sweep() == []
    assert statuses(db, "s1") == ["progress"]
    with pytest.raises(SessionBusyError):
        sweeper.claim("s1")


def test_answers_left_when_every_process_and_redis_went_away_are_found_by_the_start_up_scan(make, db):
    db.add_or_update_msg_to_conv(output_message("s1", "cut"))  # no lease, not in the active set
    registry = make()
    assert registry.sweep() == []
    time.sleep(2 * registry.renew_every_s)
    assert registry.sweep() == ["s1"]
    assert statuses(db, "s1") == ["error"]
    client = registry._link.client
    assert not client.exists(lease_key("s1")) and not client.sismember(ACTIVE_SET, "s1")


def test_while_redis_is_away_turns_run_on_local_claims_and_their_leases_come_back(make, redis_server):
    first, second = make(), make()
    redis_server.stop()
    started = time.monotonic()
    first.claim("s1")  # the cluster keeps serving: this process's own claim
    with pytest.raises(SessionBusyError):
        first.claim("s1")
    first.release("s1")
    first.claim("s2")
    first.renew()  # cannot renew: the turn goes on regardless
    assert first.running() == ["s2"]
    assert time.monotonic() - started < 3  # no call waited for a dead Redis
    redis_server.start()
    time.sleep(1.1)  # past the fail-fast pause
    first.renew()
    with pytest.raises(SessionBusyError):
        second.claim("s2")  # the written-back lease makes it cluster-wide again
