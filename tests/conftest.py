"""Fixtures shared by the whole suite: an isolated environment and fake provider servers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.providers import FakeAnthropic, FakeOllama, FakeOpenAI

# Settings Director (or LiteLLM) reads from the environment: none of the host's may leak into a test.
ISOLATED_PREFIXES = (
    "LITELLM_",
    "OPENAI_",
    "ANTHROPIC_",
    "GOOGLEAI_",
    "GEMINI_",
    "DEFAULT_LLM",
    "DIRECTOR_",
    "SERVER_",
    "DB_TYPE",
    "SQLITE_",
    "POSTGRES_",
)


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Strip Director/provider env vars and point the ``.env`` lookup at an empty file.

    Returns the path settings will read as ``.env`` (it does not exist yet): a test that wants to
    exercise ``.env`` handling writes to it, e.g. ``isolated_env.write_text("LITELLM_CHAT_MODEL=x")``.
    """
    for name in list(os.environ):
        if name.upper().startswith(ISOLATED_PREFIXES):
            monkeypatch.delenv(name, raising=False)
    # LiteLLM reads these when it is first imported: never fetch the price list, never phone home.
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    monkeypatch.setenv("LITELLM_OFFLINE_MODE", "true")
    env_file = tmp_path_factory.mktemp("dotenv") / ".env"
    monkeypatch.setenv("DIRECTOR_ENV_FILE", str(env_file))
    return env_file


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI()
    yield fake
    fake.close()


@pytest.fixture
def fake_anthropic() -> Iterator[FakeAnthropic]:
    fake = FakeAnthropic()
    yield fake
    fake.close()


@pytest.fixture
def fake_ollama() -> Iterator[FakeOllama]:
    fake = FakeOllama()
    yield fake
    fake.close()
