"""axe-core (WCAG 2.1 A/AA) over every view of the UI, light and dark: zero violations.

The views are the ones of the audit in issue 15: empty chat, a turn with an expanded agent step and
markdown, a sidebar with 10 chats, the @mention list, the delete dialog, the token dialog, the setup
panel, the phone layout and the phone drawer. Each is checked in both colour schemes (emulated
``prefers-color-scheme``), on the same page state.
"""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.harness import PHONE, UI, axe_violations, new_page, screenshot
from tests.fakes.providers import FakeOpenAI, Reply
from tests.fakes.server_process import ServerProcess

pytestmark = pytest.mark.e2e

# Twelve models: the pricing step's headline and JSON are long, as in the audit.
MODELS = [
    "gpt-4o-mini",
    "gpt-4o",
    "gpt-4.1",
    "gpt-4.1-mini",
    "o3-mini",
    "claude-sonnet-4-5",
    "claude-3-5-haiku-20241022",
    "gemini/gemini-2.5-flash",
    "gemini/gemini-2.5-pro",
    "mistral/mistral-large-latest",
    "groq/llama-3.1-8b-instant",
    "deepseek/deepseek-chat",
]
ANSWER = (
    "## Prices\n\n**gpt-4o-mini** is the cheapest; see the table.\n\n"
    "| model | note |\n|---|---|\n| gpt-4o-mini | cheap |\n\n"
    "```python\nprint('a very long line that overflows the code block sideways, " + "x" * 160 + "')\n```\n\n"
    "![a chart](https://images.example/chart.png)\n"
)
# A long paste: it folds behind "Show more".
PASTED = "Compare the prices of these models:\n" + "\n".join(f"- {model}" for model in MODELS * 2)


def settle(page: Page) -> None:
    """Wait for CSS transitions to end: axe measures colours as they are, mid-fade included."""
    deadline = time.monotonic() + 5
    while page.evaluate(
        "() => document.getAnimations().some((a) => a instanceof CSSTransition && a.playState === 'running')"
    ):
        assert time.monotonic() < deadline, "CSS transitions never ended"
        time.sleep(0.05)


def assert_clean(page: Page, view: str) -> None:
    """No violation in the light scheme, then none in the dark one (same state)."""
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        settle(page)
        violations = axe_violations(page)
        assert violations == [], f"{view} ({scheme}):\n" + "\n".join(violations)
    page.emulate_media(color_scheme="light")


def test_chat_views_have_no_axe_violations(ui: UI, fake: FakeOpenAI) -> None:
    page = ui.page
    ui.open()
    expect(page.get_by_role("heading", name="What can I help you with?")).to_be_visible()
    assert_clean(page, "empty chat")

    # Ten chats in the sidebar; the last one ran an agent and answered with markdown and code.
    fake.responder = lambda request: Reply(text="A short answer.")
    for n in range(9):
        ui.send(f"Question number {n + 1}")
        expect(ui.answer()).to_have_text("A short answer.")
        page.keyboard.press("Control+k")
    fake.script(Reply(tool_calls=[("pricing", {"models": MODELS})]), Reply(text=ANSWER))
    ui.send(PASTED)
    expect(ui.answer().locator("table")).to_be_visible()
    expect(ui.answer().locator(".remote-image")).to_be_visible()
    more = page.locator('[data-role="user"]').last.locator("button.more")
    expect(more).to_have_text("Show more")
    expect(more).to_have_attribute("aria-expanded", "false")
    expect(ui.sessions).to_have_count(10)
    step = ui.assistant().locator('.step[data-agent="pricing"]')
    expect(step).to_have_attribute("data-status", "success")
    step.locator("button.step-head").click()
    expect(step.locator(".json-view")).to_be_visible()
    screenshot(page, "a11y-step-expanded")
    assert_clean(page, "chat with an expanded step, markdown and 10 chats")
    more.click()
    expect(more).to_have_attribute("aria-expanded", "true")
    expect(more).to_have_text("Show less")
    assert_clean(page, "a long message unfolded")

    ui.box.click()
    ui.box.press_sequentially("@")
    expect(page.get_by_role("listbox", name="Agents")).to_be_visible()
    assert_clean(page, "@mention list")
    ui.box.press("Escape")
    ui.box.fill("")

    ui.sessions.first.hover()
    page.locator('nav[aria-label="Chat history"] li').first.get_by_role("button", name="Delete chat").click()
    dialog = page.get_by_role("dialog", name="Delete this chat?")
    expect(dialog).to_be_visible()
    assert_clean(page, "delete dialog")
    dialog.get_by_role("button", name="Cancel").click()

    page.set_viewport_size(PHONE)
    expect(page.get_by_role("button", name="Show chats")).to_be_visible()
    assert_clean(page, "phone")
    page.get_by_role("button", name="Show chats").click()
    sidebar = page.locator("#sidebar")
    expect(sidebar).to_have_css("transform", "none")
    assert_clean(page, "phone drawer")


@pytest.mark.parametrize("which", ["setup panel", "token dialog"])
def test_screens_before_chatting_have_no_axe_violations(
    which: str, browser: Browser, unconfigured_server: ServerProcess, token_server: ServerProcess
) -> None:
    server = unconfigured_server if which == "setup panel" else token_server
    context, page, watch = new_page(browser, server.url)
    try:
        page.goto("/")
        if which == "setup panel":
            expect(page.get_by_test_id("setup-panel")).to_be_visible()
        else:
            expect(page.get_by_role("dialog", name="This server needs an access token")).to_be_visible()
        assert_clean(page, which)
        assert watch.errors == []
    finally:
        context.close()
