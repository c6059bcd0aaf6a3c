"""Cost in the web UI, in Chromium against a real server with a priced model and a chat budget: the
chat header's totals update after each turn, the budget bar appears at 80%, the budget refusal is
shown clearly, the activity view lists each call, and the Usage page charts real data and links to chats."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.conftest import configured_env
from tests.e2e.harness import UI, axe_violations, new_page, screenshot
from tests.fakes.providers import DEFAULT_COMPLETION_TOKENS, DEFAULT_PROMPT_TOKENS, FakeOpenAI, Reply
from tests.fakes.server_process import ServerProcess, start_server

pytestmark = pytest.mark.e2e

CALL_COST = DEFAULT_PROMPT_TOKENS * 0.15e-6 + DEFAULT_COMPLETION_TOKENS * 0.60e-6  # openai/gpt-4o-mini
BUDGET = 2.4 * CALL_COST  # three calls start under it; the fourth is refused


@pytest.fixture(scope="module")
def server(built_frontend: None, fake: FakeOpenAI) -> Iterator[ServerProcess]:
    env = configured_env(
        fake, LITELLM_CHAT_MODEL="openai/gpt-4o-mini", DIRECTOR_SESSION_BUDGET_USD=f"{BUDGET:.10f}"
    )
    process = start_server(env)
    process.wait_until_warm()
    try:
        yield process
    finally:
        process.cleanup()


@pytest.fixture
def ui(browser: Browser, server: ServerProcess) -> Iterator[UI]:
    context, page, watch = new_page(browser, server.url)
    yield UI(page, watch)
    context.close()
    assert watch.errors == [] and watch.dialogs == []


def finished(ui: UI, nth: int) -> None:
    expect(ui.assistant(nth)).not_to_have_attribute("data-status", "progress")


def test_totals_budget_bar_refusal_and_usage_page(ui: UI, fake: FakeOpenAI) -> None:
    totals = ui.page.get_by_test_id("chat-totals")
    fake.script(Reply(text="One."), Reply(text="Two."), Reply(text="Three."))
    ui.open().send("First question")
    expect(ui.answer()).to_have_text("One.")
    expect(totals).to_contain_text(f"{DEFAULT_PROMPT_TOKENS} in · {DEFAULT_COMPLETION_TOKENS} out")
    expect(totals).to_contain_text("1 model call")
    expect(ui.page.get_by_test_id("budget-bar")).to_have_count(0)  # 40% of the budget: no bar yet

    ui.send("Second question")
    expect(ui.answer()).to_have_text("Two.")
    expect(totals).to_contain_text("2 model calls")
    # Over 80% of the chat’s budget is used: the bar shows how much.
    bar = ui.page.get_by_role("progressbar", name="This chat’s budget")
    expect(bar).to_have_attribute("aria-valuenow", "83")
    expect(ui.sessions.first.get_by_test_id("session-cost")).to_be_visible()

    # The activity view lists each model call with its figures.
    ui.assistant().get_by_role("button", name=re.compile("Show activity")).click()
    expect(ui.assistant().get_by_test_id("call-figures")).to_contain_text(
        f"assistant · openai/gpt-4o-mini · {DEFAULT_PROMPT_TOKENS} in / {DEFAULT_COMPLETION_TOKENS} out"
    )
    expect(ui.assistant().get_by_test_id("call-figures")).to_contain_text(" ms")

    ui.send("Third question")
    expect(ui.answer()).to_have_text("Three.")
    ui.send("Fourth question")
    error = ui.assistant().get_by_test_id("answer-error")
    expect(error).to_contain_text("Budget reached")
    expect(error.get_by_test_id("budget-refusal")).to_contain_text("This chat’s budget")
    expect(error.get_by_test_id("budget-refusal")).to_contain_text("DIRECTOR_SESSION_BUDGET_USD")
    expect(ui.assistant()).to_have_attribute("data-status", "error")
    assert len(fake.requests) == 3  # the refused call never left the server
    expect(bar).to_have_attribute("aria-valuenow", "100")
    assert axe_violations(ui.page) == []
    screenshot(ui.page, "budget-refusal")
    chat_url = ui.page.url

    # The Usage page: the chart and tables from the stored calls, and a link back to the chat.
    ui.page.get_by_test_id("open-usage").click()
    page = ui.page.get_by_test_id("usage-page")
    expect(page.get_by_role("heading", name="Usage")).to_be_visible()
    expect(page.get_by_test_id("usage-chart").locator("canvas")).to_have_count(1)
    expect(page.get_by_test_id("usage-models")).to_contain_text("openai/gpt-4o-mini")
    expect(page.get_by_test_id("usage-summary")).to_contain_text("3 model calls")
    expect(page.get_by_test_id("usage-days").locator("tbody tr")).to_have_count(1)
    expect(ui.page).to_have_url(re.compile(r"view=usage"))
    page.get_by_role("button", name="7 days").click()
    expect(page.get_by_role("button", name="7 days")).to_have_attribute("aria-pressed", "true")
    assert axe_violations(ui.page) == []
    screenshot(ui.page, "usage-page")
    ui.page.emulate_media(color_scheme="dark")
    assert axe_violations(ui.page) == []
    screenshot(ui.page, "usage-page-dark")
    ui.page.emulate_media(color_scheme="light")

    link = page.get_by_test_id("usage-chats").get_by_role("link", name="First question")
    link.click()
    expect(ui.page.get_by_test_id("usage-page")).to_have_count(0)
    expect(ui.answer(0)).to_have_text("One.")
    assert ui.page.url.split("?")[1] == chat_url.split("?")[1]
