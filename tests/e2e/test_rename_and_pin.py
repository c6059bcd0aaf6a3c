"""Renaming and pinning chats in Chromium, surviving a reload."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.e2e.harness import UI, axe_violations
from tests.fakes.providers import FakeOpenAI, Reply


def test_rename_and_pin_a_chat(ui: UI, fake: FakeOpenAI) -> None:
    fake.script(Reply(text="About apples."), Reply(text="About pears."))
    ui.open().send("Tell me about apples")
    expect(ui.answer()).to_have_text("About apples.")
    ui.page.keyboard.press("Control+k")
    ui.send("Tell me about pears")
    expect(ui.answer()).to_have_text("About pears.")
    expect(ui.sessions.nth(0)).to_contain_text("Tell me about pears")

    # Pin the older chat: it moves to the top.
    pin = ui.page.get_by_role("button", name="Pin chat: Tell me about apples")
    pin.click()
    expect(pin).to_have_attribute("aria-pressed", "true")
    expect(ui.sessions.nth(0)).to_contain_text("Tell me about apples")

    # Rename it from its row; Save in the dialog, focus back on the button that opened it.
    rename = ui.page.get_by_role("button", name="Rename chat: Tell me about apples")
    rename.click()
    box = ui.page.get_by_role("dialog", name="Rename chat").get_by_label("Title")
    expect(box).to_be_focused()
    expect(box).to_have_value("Tell me about apples")
    assert axe_violations(ui.page) == []
    box.fill("Fruit   notes 🍎")
    box.press("Enter")
    expect(ui.page.get_by_role("dialog")).to_have_count(0)
    expect(ui.sessions.nth(0)).to_contain_text("Fruit notes 🍎")
    expect(ui.page.get_by_role("button", name="Rename chat: Fruit notes 🍎")).to_be_focused()

    # Escape cancels a rename without changing anything.
    ui.page.get_by_role("button", name="Rename chat: Tell me about pears").click()
    ui.page.keyboard.press("Escape")
    expect(ui.page.get_by_role("dialog")).to_have_count(0)

    ui.page.reload()
    expect(ui.sessions.nth(0)).to_contain_text("Fruit notes 🍎")
    expect(ui.sessions.nth(1)).to_contain_text("Tell me about pears")
    expect(ui.page.get_by_role("button", name="Pin chat: Fruit notes 🍎")).to_have_attribute(
        "aria-pressed", "true"
    )

    # Unpin: back to its place by activity.
    ui.page.get_by_role("button", name="Pin chat: Fruit notes 🍎").click()
    expect(ui.sessions.nth(0)).to_contain_text("Tell me about pears")
    expect(ui.sessions.nth(1)).to_contain_text("Fruit notes 🍎")
