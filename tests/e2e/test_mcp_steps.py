"""An MCP tool as an agent in the UI: its step with live state, and an image result shown as an image."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from director.constants import REPO_ROOT
from playwright.sync_api import expect

from tests.e2e.conftest import configured_env
from tests.e2e.harness import UI, screenshot
from tests.fakes.providers import FakeOpenAI, Reply
from tests.fakes.server_process import ServerProcess, start_server

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(
    built_frontend: None, fake: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    config: Path = tmp_path_factory.mktemp("mcp") / "mcp.json"
    config.write_text(
        json.dumps(
            {
                "mcpServers": {
                    "fake": {
                        "command": sys.executable,
                        "args": ["-m", "tests.fakes.mcp_servers", "stdio"],
                        "cwd": str(REPO_ROOT),
                    }
                }
            }
        )
    )
    process = start_server(configured_env(fake, DIRECTOR_MCP_CONFIG=str(config)))
    process.wait_until_warm()
    yield process
    process.cleanup()


def test_an_mcp_image_result_is_shown_as_an_image_in_its_step(ui: UI, fake: FakeOpenAI) -> None:
    fake.script(Reply(tool_calls=[("fake__pixel", {})]), Reply(text="Here is a red pixel."))
    ui.open().send("@fake__pixel draw")

    step = ui.assistant().locator('.step[data-agent="fake__pixel"]')
    expect(step).to_have_attribute("data-status", "success")
    expect(ui.answer()).to_have_text("Here is a red pixel.")
    step.get_by_role("button", name="fake__pixel, done").click()
    image = step.get_by_role("img", name="Image returned by fake__pixel")
    expect(image).to_be_visible()
    # The browser decoded it: a real 1x1 image, not a broken one.
    assert image.evaluate("img => img.naturalWidth") == 1
    screenshot(ui.page, "mcp-image-step")
    # The model was told about the image, without its bytes.
    tool_message = next(m for m in fake.requests[1].json["messages"] if m["role"] == "tool")
    assert "shown to the user" in tool_message["content"] and "iVBOR" not in tool_message["content"]
