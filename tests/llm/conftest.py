from __future__ import annotations

import pytest
from director.llm import litellm as adapter


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Backoff waits the adapter asked for (not slept: keeps the suite fast)."""
    waits: list[float] = []
    monkeypatch.setattr(adapter, "_sleep", waits.append)
    return waits
