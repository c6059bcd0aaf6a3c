"""Real MCP servers for the tests (tests/fakes/mcp_servers.py): over stdio, and over streamable HTTP."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from director.constants import REPO_ROOT
from director.mcp.config import MCPServerSpec
from director.mcp.hub import MCPHub

from tests.fakes.mcp_servers import running_http_server


def stdio_spec(name: str = "fake", crash_flag: Path | None = None, **env: str) -> MCPServerSpec:
    if crash_flag is not None:
        env["MCP_FAKE_CRASH_FLAG"] = str(crash_flag)
    return MCPServerSpec(
        name=name,
        command=sys.executable,
        args=["-m", "tests.fakes.mcp_servers", "stdio"],
        env=env,
        cwd=str(REPO_ROOT),
    )


@pytest.fixture(scope="module")
def http_server() -> Iterator[str]:
    with running_http_server() as url:
        yield url


def wait_until(predicate, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


@pytest.fixture
def hubs() -> Iterator[list[MCPHub]]:
    made: list[MCPHub] = []
    yield made
    for hub in made:
        hub.close()
