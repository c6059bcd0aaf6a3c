"""The server's start-up heap is frozen once the LLM layer is warm, garbage first (entrypoint/api/heap.py)."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from typing import Any

import pytest
from director.entrypoint.api import heap, server


@pytest.fixture(autouse=True)
def restored_collector() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


class _Node:
    def __init__(self) -> None:
        self.other: Any = self


def test_live_objects_are_frozen() -> None:
    kept = [_Node() for _ in range(100)]
    frozen = heap.settle_startup_heap()
    assert frozen == gc.get_freeze_count() >= len(kept)
    # A full collection now leaves the frozen objects out: what it sees is what start-up did not build.
    assert len(gc.get_objects()) < frozen


def test_garbage_cycles_left_by_start_up_are_collected_not_frozen() -> None:
    cycle = _Node()
    alive = weakref.ref(cycle)
    del cycle
    heap.settle_startup_heap()
    assert alive() is None


def test_warmup_settles_the_heap_after_the_llm_layer_is_warm() -> None:
    order: list[str] = []

    class WarmingLLM:
        def warmup(self) -> None:
            order.append(f"warmup, frozen={gc.get_freeze_count()}")

    server._warmup(WarmingLLM())
    assert order == ["warmup, frozen=0"]
    assert gc.get_freeze_count() > 0


def test_a_failed_warmup_leaves_the_heap_alone(caplog: pytest.LogCaptureFixture) -> None:
    class BrokenLLM:
        def warmup(self) -> None:
            raise RuntimeError("no LiteLLM here")

    server._warmup(BrokenLLM())
    assert gc.get_freeze_count() == 0
    assert "LLM warm-up failed" in caplog.text
