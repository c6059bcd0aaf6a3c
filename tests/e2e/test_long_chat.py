"""A 2,000-message chat in the browser: it opens at its end with one page, scrolling up loads older
pages until the first message, and the DOM stays bounded all the way. Real Chromium and server."""

from __future__ import annotations

import pytest
from director.db.sqlite import SQLiteDB
from playwright.sync_api import expect

from tests.e2e.harness import UI
from tests.fakes.long_chat import answer_text, question_text, seed_long_chat
from tests.fakes.server_process import ServerProcess

pytestmark = pytest.mark.e2e

MESSAGES = 2000
MAX_RENDERED = 150  # lib/history.js WINDOW


def rendered(ui: UI) -> int:
    return ui.page.locator('[data-role="user"], [data-role="assistant"]').count()


def test_a_2000_message_chat_scrolls_up_through_older_pages(ui: UI, server: ServerProcess) -> None:
    db = SQLiteDB(str(server.workdir / "director.db"))
    try:
        seed_long_chat(db, "long", MESSAGES)
    finally:
        db.close()

    ui.open("/?session=long")
    page = ui.page
    last = page.locator('[data-role="assistant"]').last
    expect(last).to_contain_text("Answer number 999.")
    assert rendered(ui) <= 50  # one page, not 2,000 messages

    first = page.locator('[data-role="user"]').filter(has_text=question_text(0))
    thread = page.get_by_test_id("thread")
    thread.hover()
    for _ in range(400):
        if first.count():
            break
        page.mouse.wheel(0, -4000)
        page.wait_for_timeout(30)
        assert rendered(ui) <= MAX_RENDERED
    expect(first).to_be_visible()
    assert rendered(ui) <= MAX_RENDERED
    expect(page.locator('[data-role="user"]').first).to_contain_text(question_text(0))
    expect(page.locator('[data-role="assistant"]').first).to_contain_text(answer_text(0).split("\n")[0])

    # Back to the end: "Latest" shows the newest message again.
    page.get_by_test_id("jump-to-latest").click()
    expect(page.locator('[data-role="assistant"]').last).to_contain_text("Answer number 999.")
    assert rendered(ui) <= MAX_RENDERED


def test_the_sidebar_lists_a_page_of_chats_and_shows_older_ones_on_request(
    ui: UI, server: ServerProcess
) -> None:
    db = SQLiteDB(str(server.workdir / "director.db"))
    try:
        for n in range(70):
            seed_long_chat(db, f"old-{n:02d}", 2, start=1_600_000_000.0 + n)
    finally:
        db.close()
    ui.open()
    listed = ui.sessions.filter(has_text="A chat of 2 messages")
    expect(ui.sessions).to_have_count(50)
    more = ui.page.get_by_role("button", name="Show older chats")
    more.click()
    expect(listed).to_have_count(70)
    expect(more).to_have_count(0)  # nothing older left
