"""Export a chat from the UI: Markdown and JSON downloads, rendered by the server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e.harness import UI, screenshot
from tests.fakes.providers import FakeOpenAI, Reply

pytestmark = pytest.mark.e2e


def test_export_downloads_the_chat_as_markdown_and_json(ui: UI, fake: FakeOpenAI) -> None:
    fake.script(Reply(tool_calls=[("pricing", {"models": ["gpt-4o-mini"]})]), Reply(text="It is **cheap**."))
    ui.open().send("How much is gpt-4o-mini?")
    expect(ui.assistant()).to_have_attribute("data-status", "success")
    session_id = ui.page.url.split("session=")[1]

    toggle = ui.page.get_by_role("button", name="Export")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    screenshot(ui.page, "export-open")
    with ui.page.expect_download() as markdown:
        ui.page.get_by_role("group", name="Export this chat as").get_by_role(
            "button", name="Markdown"
        ).click()
    assert markdown.value.suggested_filename == f"director-{session_id}.md"
    text = Path(markdown.value.path()).read_text(encoding="utf-8")
    assert text.startswith("# How much is gpt-4o-mini?")
    assert "- **pricing** (done)" in text and "It is **cheap**." in text
    # Picking a format closes the options and gives focus back to the toggle.
    expect(toggle).to_be_focused()
    expect(toggle).to_have_attribute("aria-expanded", "false")

    toggle.click()
    with ui.page.expect_download() as as_json:
        ui.page.get_by_role("button", name="JSON").click()
    assert as_json.value.suggested_filename == f"director-{session_id}.json"
    document = json.loads(Path(as_json.value.path()).read_text(encoding="utf-8"))
    assert document["session"]["session_id"] == session_id
    assert [m["msg_type"] for m in document["conversation"]] == ["input", "output"]


def test_no_export_before_there_is_a_chat(ui: UI) -> None:
    ui.open()
    expect(ui.page.get_by_role("heading", name="What can I help you with?")).to_be_visible()
    expect(ui.page.get_by_role("button", name="Export")).to_have_count(0)
