"""The chat UI under the conditions that break chat apps: broken streams, long histories and lines,
reloads mid-turn, deleted chats. Real Chromium, real server, real LiteLLM, fake provider."""

from __future__ import annotations

import re
import threading

import pytest
from playwright.sync_api import expect

from tests.e2e.harness import UI, GatedReply, screenshot
from tests.fakes.providers import CutOffReply, FakeOpenAI, Reply
from tests.fakes.server_process import ServerProcess
from tests.integration.live_client import LiveClient

pytestmark = pytest.mark.e2e

SCROLL_STATE = """() => {
  const s = document.querySelector('.scroller')
  return {top: s.scrollTop, gap: s.scrollHeight - s.scrollTop - s.clientHeight}
}"""


def seed_session(server: ServerProcess, fake: FakeOpenAI, turns: int) -> str:
    """A session with ``turns`` finished turns, made through a real Socket.IO client (fast, no UI)."""
    client = LiveClient(server.url)
    session_id = None
    try:
        for i in range(turns):
            fake.script(Reply(text=f"Answer number {i}.\n\n" + "A sentence that fills the page. " * 6))
            out = client.ask(f"Question {i}", **({"session_id": session_id} if session_id else {}))
            assert out["status"] == "success", out
            session_id = out["session_id"]
    finally:
        # python-socketio takes ~3 s to disconnect: let it happen in the background.
        threading.Thread(target=client.disconnect, daemon=True).start()
    assert session_id
    return session_id


def test_turn_cut_off_mid_stream_keeps_the_partial_answer_and_says_why(ui: UI, fake: FakeOpenAI) -> None:
    fake.script(CutOffReply(["Half of ", "the answer ", "arrived"]))
    ui.open().send("Tell me everything")

    expect(ui.assistant()).to_have_attribute("data-status", "error")
    # What arrived reads as an answer; the failure is shown after it, as an error with advice.
    expect(ui.answer()).to_have_text("Half of the answer arrived")
    error = ui.assistant().get_by_test_id("answer-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("cut short")
    expect(error).to_contain_text("try again")
    assert "Half of" not in error.inner_text()
    screenshot(ui.page, "cut-off-mid-stream")
    # The same split after a reload, from the stored message.
    ui.page.reload()
    expect(ui.answer()).to_have_text("Half of the answer arrived")
    expect(ui.assistant().get_by_test_id("answer-error")).to_contain_text("try again")
    expect(ui.page.get_by_role("button", name="Send message")).to_be_visible()


def test_long_history_scrolls_with_the_stream_unless_the_user_scrolled_up(
    ui: UI, fake: FakeOpenAI, server: ServerProcess
) -> None:
    session_id = seed_session(server, fake, 50)
    ui.open(f"/?session={session_id}")
    # A chat opens with its last page (50 messages: 25 turns); older ones load on scrolling up.
    expect(ui.page.locator('[data-role="assistant"]')).to_have_count(25)
    # Opening a chat shows its latest turn.
    ui.page.wait_for_function(f"() => ({SCROLL_STATE})().gap < 2")
    expect(ui.page.get_by_test_id("jump-to-latest")).to_have_count(0)

    long_line = "x = '" + "a" * 600 + "'"
    reply = GatedReply(
        ["Streaming starts here.\n\n" + "More words. " * 60, f"\n\n```python\n{long_line}\n```\n\nEnd."]
    )
    fake.script(reply)
    ui.send("One more, with a long code line " + "y" * 500)
    assert reply.first_sent.wait(10)
    expect(ui.answer()).to_contain_text("Streaming starts here.")
    # At the bottom while the answer streams in: the page follows it.
    ui.page.wait_for_function(f"() => ({SCROLL_STATE})().gap < 2")

    # The user scrolls up to read: new text must not pull them back down.
    ui.page.locator(".scroller").evaluate("el => el.scrollTo(0, el.scrollHeight / 3)")
    jump = ui.page.get_by_test_id("jump-to-latest")
    expect(jump).to_be_visible()
    held = ui.page.evaluate(SCROLL_STATE)["top"]
    reply.release()
    expect(ui.assistant()).to_have_attribute("data-status", "success")
    expect(ui.answer()).to_contain_text("End.")
    assert ui.page.evaluate(SCROLL_STATE)["top"] == held

    # Long lines scroll inside their code block; nothing widens the page.
    assert ui.page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    assert ui.page.locator(".scroller").evaluate("el => el.scrollWidth <= el.clientWidth")
    pre = ui.answer().locator(".code-block pre")
    assert pre.evaluate("el => el.scrollWidth > el.clientWidth")

    screenshot(ui.page, "long-history-scrolled-up")
    jump.click()
    ui.page.wait_for_function(f"() => ({SCROLL_STATE})().gap < 2")
    expect(jump).to_have_count(0)
    screenshot(ui.page, "long-history-latest")


def test_reload_during_a_running_turn_picks_it_up(ui: UI, fake: FakeOpenAI) -> None:
    reply = GatedReply(["Working on it", " and now", " it is finished."])
    fake.script(reply)
    ui.open().send("A slow question")
    assert reply.first_sent.wait(10)
    expect(ui.answer()).to_contain_text("Working on it")
    expect(ui.page).to_have_url(re.compile(r"\?session=\w+$"))

    ui.page.reload()
    expect(ui.page.locator('.layout[data-connected="true"]')).to_be_attached()
    # The turn is still running on the server: the page says so and offers Stop, not Send.
    expect(ui.page.locator('[data-role="user"] [data-testid="user-text"]')).to_have_text(["A slow question"])
    expect(ui.assistant()).to_have_attribute("data-status", "progress")
    expect(ui.page.get_by_role("button", name="Stop")).to_be_visible()
    reply.release()
    expect(ui.answer()).to_have_text("Working on it and now it is finished.")
    expect(ui.page.get_by_role("button", name="Send message")).to_be_visible()


def test_deleted_chat_link_then_sending_starts_a_new_chat(ui: UI, fake: FakeOpenAI) -> None:
    fake.script(Reply(text="Fresh start."))
    ui.open("/?session=deadbeefdeadbeefdeadbeefdeadbeef")
    expect(ui.page.get_by_role("heading", name="This chat no longer exists")).to_be_visible()
    ui.send("Hello again")
    expect(ui.answer()).to_have_text("Fresh start.")
    # The server made a new session for it (a deleted id is never revived by the client).
    expect(ui.page).to_have_url(re.compile(r"\?session=(?!deadbeef)\w+$"))
    expect(ui.page.get_by_role("heading", name="This chat no longer exists")).to_have_count(0)
    # The browser reports the one 404 of the missing chat; nothing else may go wrong.
    assert all("404" in error for error in ui.watch.errors), ui.watch.errors
    ui.watch.errors.clear()


def test_keyboard_only_reaches_the_chat_list_and_its_delete_button(ui: UI, fake: FakeOpenAI) -> None:
    fake.script(Reply(text="Noted."))
    ui.open().send("Keyboard chat")
    expect(ui.answer()).to_have_text("Noted.")

    row = ui.page.locator('nav[aria-label="Chat history"] .item').first
    # The list is refreshed after the answer: Tab must not be pressed before the chat is in it.
    expect(row).to_have_attribute("title", "Keyboard chat")
    ui.page.get_by_role("button", name="New chat").first.focus()
    ui.page.keyboard.press("Tab")
    expect(row).to_be_focused()
    expect(row).to_contain_text("Keyboard chat")
    ui.page.keyboard.press("Tab")
    delete = ui.page.get_by_role("button", name="Delete chat: Keyboard chat")
    expect(delete).to_be_focused()
    # Hidden until hover for mouse users, it must be visible (and ringed) when focused.
    assert delete.evaluate("el => getComputedStyle(el).opacity") == "1"
    assert delete.evaluate("el => getComputedStyle(el).outlineStyle") == "solid"
    ui.page.keyboard.press("Enter")
    dialog = ui.page.get_by_role("dialog", name="Delete this chat?")
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    ui.page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(row).to_be_visible()
