"""Edit and regenerate in the browser: each makes a new version, `< 2/3 >` switches between them (by
keyboard), and the version shown survives a reload. Real Chromium, server, LiteLLM; fake provider."""

from __future__ import annotations

import itertools

import pytest
from playwright.sync_api import expect

from tests.e2e.harness import UI, axe_violations
from tests.fakes.providers import FakeOpenAI, RecordedRequest, Reply

pytestmark = pytest.mark.e2e


def numbered_answers(fake: FakeOpenAI) -> None:
    counter = itertools.count(1)

    def reply(req: RecordedRequest) -> Reply:
        question = next(m["content"] for m in reversed(req.json["messages"]) if m["role"] == "user")
        return Reply(text=f"Answer {next(counter)} to: {question}")

    fake.responder = reply


def user_texts(fake: FakeOpenAI) -> list[str]:
    return [m["content"] for m in fake.requests[-1].json["messages"] if m["role"] == "user"]


def test_edit_regenerate_and_switch_versions_surviving_reload(ui: UI, fake: FakeOpenAI) -> None:
    numbered_answers(fake)
    page = ui.page
    ui.open().send("first question")
    expect(ui.answer()).to_have_text("Answer 1 to: first question")
    ui.send("second question")
    expect(ui.answer()).to_have_text("Answer 2 to: second question")

    # Edit the second question, by keyboard: Edit, change the text, Enter sends the new version.
    second = page.locator('[data-role="user"]').nth(1)
    second.get_by_role("button", name="Edit").focus()
    page.keyboard.press("Enter")
    box = second.get_by_label("Edit your message")
    expect(box).to_be_focused()
    box.fill("second question, edited")
    box.press("Enter")
    expect(ui.answer()).to_have_text("Answer 3 to: second question, edited")
    assert user_texts(fake) == ["first question", "second question, edited"]
    switcher = page.locator('[data-role="user"]').nth(1).get_by_role("group", name="Version 2 of 2")
    expect(switcher.get_by_test_id("branch-count")).to_have_text("2/2")

    # Regenerate the answer: the same question again, a third version beside the other two.
    ui.assistant().get_by_role("button", name="Regenerate").click()
    expect(ui.answer()).to_have_text("Answer 4 to: second question, edited")
    assert user_texts(fake) == ["first question", "second question, edited"]
    expect(page.get_by_role("group", name="Version 3 of 3")).to_be_visible()
    expect(page.locator('[data-role="assistant"]')).to_have_count(2)  # one answer per question shown

    # "Previous version" twice: back to the original question and its answer.
    page.get_by_role("group", name="Version 3 of 3").get_by_role("button", name="Previous version").click()
    expect(page.get_by_role("group", name="Version 2 of 3")).to_be_visible()
    expect(ui.answer()).to_have_text("Answer 3 to: second question, edited")
    previous = page.get_by_role("group", name="Version 2 of 3").get_by_role("button", name="Previous version")
    previous.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("group", name="Version 1 of 3")).to_be_visible()
    expect(ui.answer()).to_have_text("Answer 2 to: second question")
    expect(page.get_by_role("button", name="Previous version")).to_be_disabled()

    # The version shown is stored: a reload shows it, and the next message continues it.
    page.reload()
    expect(page.locator('.layout[data-connected="true"]')).to_be_attached()
    expect(page.get_by_role("group", name="Version 1 of 3")).to_be_visible()
    expect(ui.answer()).to_have_text("Answer 2 to: second question")
    assert axe_violations(page) == []  # the arrows, Edit and Regenerate meet the same standard
    ui.send("third")
    expect(ui.answer()).to_have_text("Answer 5 to: third")
    assert user_texts(fake) == ["first question", "second question", "third"]
