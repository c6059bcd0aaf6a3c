"""Screens before chatting: the setup panel (no model configured) and the access-token prompt."""

from __future__ import annotations

import pytest
from director.constants import LLMType
from director.llm.providers import example, preset_model, provider_examples, quick_start
from playwright.sync_api import Browser, expect

from tests.e2e.conftest import TOKEN
from tests.e2e.harness import PHONE, new_page, screenshot
from tests.fakes.providers import FakeOpenAI, Reply
from tests.fakes.server_process import ServerProcess

pytestmark = pytest.mark.e2e


def test_setup_panel_says_what_to_put_in_env(browser: Browser, unconfigured_server: ServerProcess) -> None:
    context, page, watch = new_page(browser, unconfigured_server.url)
    try:
        page.goto("/")
        panel = page.get_by_test_id("setup-panel")
        expect(panel).to_be_visible()
        expect(panel.get_by_role("heading", level=1)).to_have_text("Connect a model to start chatting")
        # The panel shows providers.json's examples, the README's quick-start one first.
        panel_examples = [p for p in provider_examples() if p.setup_panel]
        snippet = page.get_by_test_id("env-snippet")
        expect(snippet).to_have_text("\n".join(quick_start().lines))
        # No chat box that could only fail.
        expect(page.locator("#composer-input")).to_have_count(0)
        screenshot(page, "setup-panel")

        # Keyboard: arrow keys move between the provider tabs.
        page.get_by_role("tab", name=panel_examples[0].label).focus()
        page.keyboard.press("ArrowRight")
        expect(page.get_by_role("tab", name=panel_examples[1].label, exact=True)).to_be_focused()
        expect(snippet).to_have_text("\n".join(panel_examples[1].lines))
        # The OpenAI tab shows the same model as .env.sample and the DEFAULT_LLM=openai preset.
        openai = example("openai")
        assert openai.model == preset_model(LLMType.OPENAI)
        page.get_by_role("tab", name=openai.label, exact=True).click()
        expect(snippet).to_contain_text(f"LITELLM_CHAT_MODEL={openai.model}")
        page.get_by_role("tab", name=example("ollama").label).click()
        expect(snippet).to_contain_text(f"LITELLM_CHAT_MODEL={example('ollama').model}")
        expect(panel.get_by_text("ollama pull")).to_be_visible()

        page.set_viewport_size(PHONE)
        expect(panel).to_be_visible()
        assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
        screenshot(page, "setup-panel-phone")
        assert watch.errors == []
    finally:
        context.close()


def test_token_is_asked_once_and_kept(
    browser: Browser, token_server: ServerProcess, fake: FakeOpenAI
) -> None:
    fake.script(Reply(text="Authorised answer."))
    context, page, watch = new_page(browser, token_server.url)
    try:
        page.goto("/")
        dialog = page.get_by_role("dialog", name="This server needs an access token")
        expect(dialog).to_be_visible()
        field = dialog.get_by_label("Access token")
        expect(field).to_be_focused()
        # The app learnt from /health that a token is needed: it asked before calling any
        # protected route, so no refused (401) request shows up in the console.
        assert watch.errors == []

        field.fill("wrong-token")
        field.press("Enter")
        expect(dialog.get_by_role("alert")).to_contain_text("not accepted")
        # Checking a wrong token costs exactly the browser's report of that refusal.
        assert watch.errors and all("401" in error for error in watch.errors), watch.errors
        watch.errors.clear()

        dialog.get_by_label("Access token").fill(TOKEN)
        dialog.get_by_role("button", name="Continue").click()
        expect(dialog).to_be_hidden()
        expect(page.locator('.layout[data-connected="true"]')).to_be_attached()
        page.locator("#composer-input").fill("Hello with a token")
        page.locator("#composer-input").press("Enter")
        expect(page.locator('[data-role="assistant"] [data-testid="answer"]')).to_have_text(
            "Authorised answer."
        )
        assert fake.requests, "the turn reached the provider"

        # Reloading does not ask again: the token is kept in this browser.
        page.reload()
        expect(page.locator('.layout[data-connected="true"]')).to_be_attached()
        expect(page.get_by_role("dialog")).to_have_count(0)
        expect(page.locator('nav[aria-label="Chat history"] .item').first).to_contain_text(
            "Hello with a token"
        )
        # With the right token (and after a reload with the kept one) nothing is refused.
        assert watch.errors == []
    finally:
        context.close()
