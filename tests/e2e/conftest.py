"""Fixtures for the browser tier: one Chromium for the whole run, one real server per module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser

from tests.e2e.harness import UI, ensure_frontend_built, new_page, start_playwright
from tests.fakes.providers import FAKE_API_KEY, FakeOpenAI
from tests.fakes.server_process import ServerProcess, start_server


@pytest.fixture(scope="session")
def built_frontend() -> None:
    ensure_frontend_built()


@pytest.fixture(scope="session")
def browser(built_frontend: None) -> Iterator[Browser]:
    playwright, browser = start_playwright()
    try:
        yield browser
    finally:
        browser.close()
        playwright.stop()


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    provider = FakeOpenAI()
    try:
        yield provider
    finally:
        provider.close()


def configured_env(fake: FakeOpenAI, **extra: str) -> dict[str, str]:
    """A server whose LiteLLM talks to ``fake`` (real HTTP on 127.0.0.1)."""
    return {
        "LITELLM_CHAT_MODEL": "openai/fake-model",
        "LITELLM_API_BASE": fake.api_base,
        "LITELLM_API_KEY": FAKE_API_KEY,
        # Provider errors must reach the user quickly; retries are the LLM layer's business.
        "LITELLM_NUM_RETRIES": "0",
        **extra,
    }


@pytest.fixture(scope="module")
def server(built_frontend: None, fake: FakeOpenAI) -> Iterator[ServerProcess]:
    process = start_server(configured_env(fake))
    process.wait_until_warm()  # tests wait seconds for answers, not for LiteLLM's first import
    try:
        yield process
    finally:
        # The API key must never reach a log line.
        logs = process.logs()
        process.cleanup()
        assert FAKE_API_KEY not in logs


@pytest.fixture(autouse=True)
def _fresh_fake(request: pytest.FixtureRequest) -> None:
    """Each test starts with an empty script and request log."""
    if "fake" in request.fixturenames:
        request.getfixturevalue("fake").reset()


@pytest.fixture
def ui(browser: Browser, server: ServerProcess) -> Iterator[UI]:
    context, page, watch = new_page(browser, server.url)
    ui = UI(page, watch)
    yield ui
    context.close()
    # Every flow must run without a console error, an uncaught exception or a dialog.
    assert watch.errors == []
    assert watch.dialogs == []


# The screens before chatting: no model configured at all, and a server that requires a token.
TOKEN = "e2e-secret-token-4242"


@pytest.fixture(scope="module")
def unconfigured_server(built_frontend: None) -> Iterator[ServerProcess]:
    process = start_server({})  # no LITELLM_CHAT_MODEL at all
    try:
        yield process
    finally:
        process.cleanup()


@pytest.fixture(scope="module")
def token_server(built_frontend: None, fake: FakeOpenAI) -> Iterator[ServerProcess]:
    process = start_server(configured_env(fake, DIRECTOR_AUTH_TOKEN=TOKEN))
    try:
        yield process
    finally:
        logs = process.logs()
        process.cleanup()
        assert TOKEN not in logs
