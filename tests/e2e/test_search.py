"""Search in Chromium: the sidebar finds a chat by a word and opens it at the message that matched."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.e2e.harness import UI, axe_violations
from tests.fakes.providers import FakeOpenAI, Reply

FILLER = "\n\n".join(f"Paragraph {i}: " + "filler text " * 40 for i in range(12))


def test_search_finds_a_chat_and_jumps_to_the_message(ui: UI, fake: FakeOpenAI) -> None:
    fake.script(
        Reply(text="Pelicans scoop fish with their pouches."),
        Reply(text=FILLER),
        Reply(text=FILLER),
        Reply(text="Something about owls."),
    )
    ui.open().send("Tell me about pelicans")
    expect(ui.answer()).to_have_text("Pelicans scoop fish with their pouches.")
    ui.send("Write a lot")
    expect(ui.answer()).to_contain_text("Paragraph 11")
    ui.send("And more")
    expect(ui.assistant()).to_have_attribute("data-status", "success")
    ui.page.keyboard.press("Control+k")
    ui.send("owls please")
    expect(ui.answer()).to_have_text("Something about owls.")

    box = ui.page.get_by_role("searchbox", name="Search chats")
    box.fill("pouch")
    results = ui.page.get_by_role("navigation", name="Search results").get_by_test_id("search-result")
    expect(results).to_have_count(1)
    expect(results.first).to_contain_text("Tell me about pelicans")
    expect(results.first.locator("mark")).to_have_text("pouches")
    assert axe_violations(ui.page) == []

    results.first.click()
    thread = ui.page.locator('[data-testid="thread"]')
    expect(thread).to_contain_text("Paragraph 11")
    # The first answer, far above the bottom of a long chat, is shown and focused.
    target = ui.assistant(0)
    expect(target).to_be_focused()
    expect(target).to_be_in_viewport()
    expect(target).to_contain_text("Pelicans scoop fish")

    box.fill("zzzz-nothing")
    expect(ui.page.get_by_role("status").filter(has_text="No chat matches.")).to_be_visible()
