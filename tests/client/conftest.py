"""One real server (token required) with real LiteLLM pointed at the fake OpenAI server, for the client and CLI."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.providers import FakeOpenAI
from tests.fakes.server_process import ServerProcess, start_server
from tests.integration.conftest import fake, module_fake, provider_env  # noqa: F401 - shared fixtures

TOKEN = "cli-test-token-5b1e0c"


@pytest.fixture(scope="module")
def live_server(module_fake: FakeOpenAI) -> Iterator[ServerProcess]:  # noqa: F811 - the imported fixture
    server = start_server(provider_env(module_fake, DIRECTOR_AUTH_TOKEN=TOKEN))
    server.wait_until_warm()
    yield server
    server.cleanup()
