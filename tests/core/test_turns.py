"""LocalTurnRegistry against the TurnRegistry interface: one turn per session, stops that arrive early."""

from __future__ import annotations

import threading

import pytest
from director.core.session import StopReason
from director.core.turns import LocalTurnRegistry, TurnRegistry
from director.errors import SessionBusyError


class Engine:
    def __init__(self) -> None:
        self.stops = 0
        self.reasons: list[StopReason] = []

    def stop(self, reason: StopReason = StopReason.USER) -> None:
        self.stops += 1
        self.reasons.append(reason)


def test_one_turn_per_session_until_released() -> None:
    registry: TurnRegistry = LocalTurnRegistry()
    registry.claim("a")
    registry.claim("b")  # other sessions are independent
    with pytest.raises(SessionBusyError):
        registry.claim("a")
    assert registry.is_busy("a") and sorted(registry.running()) == ["a", "b"]
    registry.release("a")
    assert not registry.is_busy("a")
    registry.claim("a")


def test_a_stop_before_the_engine_exists_is_applied_on_attach() -> None:
    registry = LocalTurnRegistry()
    assert registry.stop("idle") is False
    registry.claim("s")
    assert registry.stop("s") is True
    engine = Engine()
    registry.attach("s", engine)
    assert engine.stops == 1


def test_stop_all_stops_this_process_turns() -> None:
    registry = LocalTurnRegistry()
    engines = {sid: Engine() for sid in ("a", "b")}
    for sid, engine in engines.items():
        registry.claim(sid)
        registry.attach(sid, engine)
    assert sorted(registry.stop_all()) == ["a", "b"]
    assert [e.reasons for e in engines.values()] == [[StopReason.SHUTDOWN], [StopReason.SHUTDOWN]]
    assert registry.closed


def test_claim_is_atomic_under_contention() -> None:
    registry = LocalTurnRegistry()
    barrier = threading.Barrier(8)
    won: list[bool] = []

    def contend() -> None:
        barrier.wait()
        try:
            registry.claim("hot")
            won.append(True)
        except SessionBusyError:
            won.append(False)

    threads = [threading.Thread(target=contend) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert won.count(True) == 1


class FinishingEngine(Engine):
    # ReasoningEngine.finishing: the final state is set and is being saved and sent.
    finishing = True
    finished = False


def test_a_claim_waits_for_a_turn_that_sent_its_final_answer_to_release() -> None:
    """The client may send its next message the moment the final answer arrives, before the turn's
    thread released the session: that message waits for the release instead of being refused."""
    registry = LocalTurnRegistry()
    registry.claim("s")
    registry.attach("s", FinishingEngine())
    timer = threading.Timer(0.1, registry.release, args=("s",))
    timer.start()
    registry.claim("s")  # no SessionBusyError
    timer.join()
    assert registry.running() == ["s"]


def test_a_turn_still_answering_is_refused_at_once() -> None:
    registry = LocalTurnRegistry()
    registry.claim("s")
    engine = Engine()
    engine.finished = False  # type: ignore[attr-defined]
    registry.attach("s", engine)
    with pytest.raises(SessionBusyError):
        registry.claim("s")
