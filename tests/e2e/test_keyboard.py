"""Keyboard-only flows, and what screen readers are told while an answer streams (issue 15)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.e2e.harness import PHONE, UI, GatedReply, new_page, screenshot
from tests.e2e.test_accessibility import MODELS
from tests.e2e.test_chat import wait_for_log
from tests.fakes.providers import FakeOpenAI, Reply
from tests.fakes.server_process import ServerProcess

pytestmark = pytest.mark.e2e

# The focus ring as drawn (outline + offset around the border box) must lie inside every ancestor
# that clips its overflow; otherwise part of it (or all of it) is cut away. A vertical scroller (the
# thread) may hide a tall element's top or bottom for a while, scrolling shows it: only its sides
# count; an overflow:hidden box cuts for good, all four sides count.
RING_CLIPPED_BY = """(el) => {
    const style = getComputedStyle(el)
    const grow = parseFloat(style.outlineWidth) + parseFloat(style.outlineOffset)
    const r = el.getBoundingClientRect()
    const ring = { left: r.left - grow, top: r.top - grow, right: r.right + grow, bottom: r.bottom + grow }
    const clippers = []
    for (let a = el.parentElement; a; a = a.parentElement) {
        const s = getComputedStyle(a)
        if (s.overflowX === 'visible' && s.overflowY === 'visible') continue
        const b = a.getBoundingClientRect()
        const sides = ring.left < b.left || ring.right > b.right
        const scrollsY = ['auto', 'scroll'].includes(s.overflowY)
        const ends = !scrollsY && (ring.top < b.top || ring.bottom > b.bottom)
        if (sides || ends) clippers.push(a.className || a.tagName)
    }
    return clippers
}"""


def focused_inside(page: Page, selector: str) -> bool:
    return page.evaluate("(sel) => Boolean(document.activeElement?.closest(sel))", selector)


def tab_stops_stay_inside(page: Page, selector: str, presses: int, key: str = "Tab") -> None:
    for n in range(presses):
        page.keyboard.press(key)
        assert focused_inside(page, selector), f"{key} #{n + 1} left {selector}"


def keyboard_focus(page: Page, target: Locator) -> None:
    """Focus ``target`` as a keyboard user would see it (:focus-visible applies after a key press)."""
    target.focus()
    page.keyboard.press("Shift")


def test_skip_link_then_new_chat_from_the_keyboard(ui: UI, fake: FakeOpenAI) -> None:
    fake.script(Reply(text="First chat answered."))
    ui.open()
    page = ui.page
    # The skip link is the Tab stop just before the sidebar (the first one of the page); it goes past
    # the sidebar straight to the message box.
    page.locator("#sidebar .brand").click()
    page.keyboard.press("Shift+Tab")
    skip = page.get_by_role("link", name="Skip to message box")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Enter")
    expect(ui.box).to_be_focused()
    page.keyboard.type("Hello there")
    page.keyboard.press("Enter")
    expect(ui.answer()).to_have_text("First chat answered.")
    # A new chat with the keyboard: Ctrl+K anywhere, and focus is ready in the box.
    page.keyboard.press("Control+k")
    expect(page.get_by_role("heading", name="What can I help you with?")).to_be_visible()
    expect(ui.box).to_be_focused()
    expect(page).not_to_have_url(re.compile(r"session="))


def test_send_and_stop_keep_the_focus_in_the_box(ui: UI, fake: FakeOpenAI, server: ServerProcess) -> None:
    reply = GatedReply(["Partial", " answer", " then", " the rest."])
    fake.script(reply)
    page = ui.open().page
    ui.box.focus()
    page.keyboard.type("Write something long")
    # Tab to the Send button and press it, as a keyboard user would.
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Send message")).to_be_focused()
    page.keyboard.press("Enter")
    expect(ui.box).to_be_focused()
    assert reply.first_sent.wait(10)
    expect(ui.answer()).to_contain_text("Partial")
    # Typing goes on in the box while the answer streams; then Tab, Enter on Stop.
    page.keyboard.type("next")
    expect(ui.box).to_have_value("next")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Stop")).to_be_focused()
    page.keyboard.press("Enter")
    expect(ui.box).to_be_focused()
    wait_for_log(server, "stop requested for session")
    reply.release()
    expect(ui.assistant().get_by_test_id("stopped")).to_be_visible()
    # Stop became Send again: focus is still where the user types.
    expect(ui.box).to_be_focused()


def test_step_code_and_copy_by_keyboard(ui: UI, fake: FakeOpenAI) -> None:
    fake.script(
        Reply(tool_calls=[("pricing", {"models": MODELS})]),
        Reply(text="Done.\n\n```python\nprint('hi')\n```"),
    )
    page = ui.open().page
    ui.page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    ui.send("Price twelve models")
    expect(ui.answer().locator(".code-block")).to_be_visible()
    step = ui.assistant().locator('.step[data-agent="pricing"]')
    head = step.locator("button.step-head")
    # A short name (agent and status); the long headline is its description, not its name.
    expect(head).to_have_accessible_name("pricing, done")
    assert len(head.evaluate("el => el.getAttribute('aria-describedby')") or "") > 0

    keyboard_focus(page, head)
    expect(head).to_be_focused()
    style = head.evaluate(
        "el => [getComputedStyle(el).outlineStyle, parseFloat(getComputedStyle(el).outlineWidth)]"
    )
    assert style[0] == "solid" and style[1] >= 2
    assert head.evaluate(RING_CLIPPED_BY) == []
    page.keyboard.press("Enter")
    expect(head).to_have_attribute("aria-expanded", "true")
    # The JSON view is reachable and scrollable by keyboard, with its own copy button.
    json_view = step.get_by_role("region", name="pricing result (JSON)")
    page.keyboard.press("Tab")
    expect(step.get_by_role("button", name="Copy pricing JSON")).to_be_focused()
    page.keyboard.press("Tab")
    expect(json_view).to_be_focused()
    assert json_view.evaluate(RING_CLIPPED_BY) == []
    # Each model's record starts folded (named by its first field); Enter unfolds it.
    folded = json_view.locator("details:not([open]) > summary")
    expect(folded.first).to_contain_text('"model": "gpt-4o-mini"')
    assert folded.count() >= 10  # the models LiteLLM's map knows
    for _ in range(folded.count()):
        keyboard_focus(page, folded.first)
        page.keyboard.press("Enter")
    expect(folded).to_have_count(0)
    json_view.scroll_into_view_if_needed()
    screenshot(page, "json-viewer")
    # Now taller than its box: it scrolls from the keyboard.
    assert json_view.evaluate("el => el.scrollHeight > el.clientHeight")
    json_view.focus()
    page.keyboard.press("End")
    expect(json_view).not_to_have_js_property("scrollTop", 0)

    # Copy the code block by keyboard: the clipboard has it and a polite status says so.
    copy = ui.answer().get_by_role("button", name="Copy code")
    keyboard_focus(page, copy)
    assert copy.evaluate(RING_CLIPPED_BY) == []
    page.keyboard.press("Enter")
    expect(copy).to_have_text("Copied")
    assert page.evaluate("() => navigator.clipboard.readText()") == "print('hi')\n"
    expect(page.get_by_test_id("status-announcer")).to_have_text("Code copied")
    # The whole answer too.
    keyboard_focus(page, ui.assistant().get_by_role("button", name="Copy answer"))
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("status-announcer")).to_have_text("Answer copied")
    assert page.evaluate("() => navigator.clipboard.readText()").startswith("Done.")


def test_switch_and_delete_chats_by_keyboard(ui: UI, fake: FakeOpenAI) -> None:
    fake.script(Reply(text="About apples."), Reply(text="About pears."))
    page = ui.open().page
    ui.send("apples")
    expect(ui.answer()).to_have_text("About apples.")
    page.keyboard.press("Control+k")
    ui.send("pears")
    expect(ui.answer()).to_have_text("About pears.")
    apples = page.locator('nav[aria-label="Chat history"] li', has_text="apples")

    # Switch: focus the older chat's row and press Enter.
    keyboard_focus(page, apples.locator(".item"))
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("thread")).to_contain_text("About apples.")
    expect(apples.locator(".item")).to_have_attribute("aria-current", "page")

    # Delete: Tab from the row reaches its delete button; the dialog traps focus.
    page.keyboard.press("Tab")
    delete = apples.get_by_role("button", name=re.compile("Delete chat"))
    expect(delete).to_be_focused()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Delete this chat?")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    tab_stops_stay_inside(page, "dialog[open]", 5)
    tab_stops_stay_inside(page, "dialog[open]", 5, key="Shift+Tab")
    # Escape closes it and focus goes back to the button that opened it.
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(delete).to_be_focused()
    # Cancel by keyboard: the same.
    page.keyboard.press("Enter")
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    page.keyboard.press("Enter")
    expect(dialog).to_be_hidden()
    expect(delete).to_be_focused()
    # Delete for real.
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    expect(dialog.get_by_role("button", name="Delete")).to_be_focused()
    page.keyboard.press("Enter")
    expect(apples).to_have_count(0)
    # It was the open chat: a new one is ready, focus in its box.
    expect(ui.box).to_be_focused()


def test_mention_with_arrows_keeps_the_highlighted_option_in_view(
    browser: Browser, server: ServerProcess
) -> None:
    # A short window: the list is shorter than its options and has to scroll.
    context, page, watch = new_page(browser, server.url, viewport={"width": 1000, "height": 420})
    try:
        ui = UI(page, watch).open()
        ui.box.focus()
        page.keyboard.type("@")
        menu = page.get_by_role("listbox", name="Agents")
        expect(menu).to_be_visible()
        options = menu.get_by_role("option")
        count = options.count()
        assert count >= 3
        assert menu.evaluate("el => el.scrollHeight > el.clientHeight"), "the list should scroll here"

        def assert_fully_in_view(n: int) -> None:
            option = options.nth(n)
            expect(option).to_have_attribute("aria-selected", "true")
            expect(ui.box).to_have_attribute("aria-activedescendant", option.get_attribute("id") or "")
            box, frame = option.bounding_box(), menu.bounding_box()
            assert box and frame
            top, bottom = frame["y"], frame["y"] + frame["height"]
            assert top - 0.5 <= box["y"] and box["y"] + box["height"] <= bottom + 0.5, f"option {n} is cut"

        for n in range(count):
            if n:
                page.keyboard.press("ArrowDown")
            assert_fully_in_view(n)
        assert menu.evaluate("el => el.scrollTop") > 0
        # Wraps to the first, which scrolls back into view; ArrowUp wraps to the last.
        page.keyboard.press("ArrowDown")
        assert_fully_in_view(0)
        page.keyboard.press("ArrowUp")
        assert_fully_in_view(count - 1)
        page.keyboard.press("Enter")
        expect(menu).to_be_hidden()
        expect(ui.box).to_have_value(re.compile(r"^@\w+ $"))
        assert watch.errors == []
    finally:
        context.close()


def assert_tap_targets(buttons: Locator) -> None:
    for button in buttons.all():
        if not button.is_visible():
            continue
        size = button.bounding_box()
        name = button.get_attribute("aria-label") or button.inner_text()
        assert size and size["height"] >= 44 and size["width"] >= 44, f"{name!r} is {size}"


def test_phone_drawer_traps_focus_and_makes_the_chat_inert(
    browser: Browser, server: ServerProcess, fake: FakeOpenAI
) -> None:
    fake.script(
        Reply(tool_calls=[("pricing", {"models": ["gpt-4o-mini"]})]),
        Reply(text="Cheap.\n\n```python\nprint(1)\n```"),
    )
    context, page, watch = new_page(browser, server.url, viewport=PHONE)
    try:
        ui = UI(page, watch).open()
        ui.send("Price of gpt-4o-mini")
        expect(ui.answer()).to_contain_text("Cheap.")
        # Every button of the chat is a 44 px target on a phone ("Show activity" was 23 px).
        expect(page.get_by_role("button", name=re.compile("Show activity"))).to_be_visible()
        assert_tap_targets(page.locator("main").get_by_role("button"))
        toggle = page.get_by_role("button", name="Show chats")
        main = page.locator("main#main")
        keyboard_focus(page, toggle)
        page.keyboard.press("Enter")
        sidebar = page.locator("#sidebar")
        expect(sidebar.get_by_role("button", name="New chat")).to_be_focused()
        expect(main).to_have_attribute("inert", "")
        # The chat behind is gone for assistive technology too.
        expect(page.get_by_role("textbox", name="Message")).to_have_count(0)
        tab_stops_stay_inside(page, "#sidebar", 8)
        tab_stops_stay_inside(page, "#sidebar", 8, key="Shift+Tab")
        page.keyboard.press("Escape")
        expect(sidebar).to_be_hidden()
        expect(main).not_to_have_attribute("inert", "")
        expect(toggle).to_be_focused()
        # Phone polish: no "Ctrl K" hint, and tap targets of at least 44 px.
        toggle.click()
        expect(sidebar.locator(".new-chat kbd")).to_be_hidden()
        expect(sidebar).to_have_css("transform", "none")
        assert_tap_targets(sidebar.get_by_role("button"))
        assert watch.errors == []
    finally:
        context.close()


def test_page_up_scrolls_the_thread_from_the_message_box(ui: UI, fake: FakeOpenAI) -> None:
    long_answer = "\n\n".join(f"Paragraph {n} of a long answer." for n in range(80))
    fake.script(Reply(text=long_answer))
    page = ui.open().page
    ui.send("A long one please")
    expect(ui.answer()).to_contain_text("Paragraph 79")
    scroller = page.locator(".scroller")
    expect(ui.box).to_be_focused()
    bottom = scroller.evaluate("el => el.scrollTop")
    assert bottom > 0
    page.keyboard.press("PageUp")
    expect(scroller).not_to_have_js_property("scrollTop", bottom)
    up = scroller.evaluate("el => el.scrollTop")
    assert up < bottom
    expect(ui.box).to_be_focused()
    page.keyboard.press("PageDown")
    expect(scroller).to_have_js_property("scrollTop", bottom)


def test_touch_enter_adds_a_line_and_the_button_sends(
    browser: Browser, server: ServerProcess, fake: FakeOpenAI
) -> None:
    fake.script(Reply(text="Sent from a phone."))
    context, page, watch = new_page(browser, server.url, viewport=PHONE, has_touch=True, is_mobile=True)
    try:
        ui = UI(page, watch).open()
        assert page.evaluate("() => matchMedia('(pointer: coarse)').matches")
        ui.box.focus()
        page.keyboard.type("line one")
        page.keyboard.press("Enter")
        page.keyboard.type("line two")
        expect(ui.box).to_have_value("line one\nline two")
        assert fake.requests == []
        page.get_by_role("button", name="Send message").tap()
        expect(ui.answer()).to_have_text("Sent from a phone.")
        assert fake.requests[-1].json["messages"][-1]["content"] == "line one\nline two"
        assert watch.errors == []
    finally:
        context.close()


# Text added to live regions, whatever the region: the mutations screen readers are told about.
WATCH_LIVE_REGIONS = """() => {
    window.__live = []
    const liveRoot = (node) => {
        for (let el = node.nodeType === 1 ? node : node.parentElement; el; el = el.parentElement) {
            const live = el.getAttribute('aria-live')
            if (live) return live === 'off' ? null : el
            if (['log', 'status', 'alert'].includes(el.getAttribute('role'))) return el
        }
        return null
    }
    new MutationObserver((records) => {
        for (const r of records) {
            if (!liveRoot(r.target)) continue
            if (r.type === 'characterData') window.__live.push(r.target.data)
            else for (const n of r.addedNodes) window.__live.push(n.textContent || '')
        }
    }).observe(document.body, { subtree: true, childList: true, characterData: true })
}"""


def test_a_streamed_answer_is_announced_once(ui: UI, fake: FakeOpenAI) -> None:
    sentence = "The quick brown fox jumps over the lazy dog again and again. "
    answer = (sentence * 17)[:1000]
    chunks = [answer[i : i + 20] for i in range(0, len(answer), 20)]
    assert len(chunks) == 50 and len(answer) == 1000
    fake.script(Reply(text=answer, chunks=chunks))
    page = ui.open().page
    page.evaluate(WATCH_LIVE_REGIONS)
    ui.send("Tell me about the fox")
    expect(ui.assistant()).to_have_attribute("data-status", "success")
    expect(ui.answer()).to_have_text(answer)
    announcer = page.get_by_test_id("chat-announcer")
    expect(announcer.locator("p")).to_have_count(2)
    added = page.evaluate("() => window.__live")
    total = sum(len(text) for text in added)
    assert total <= 1.5 * len(answer), (
        f"{total} characters added to live regions for a {len(answer)}-character answer"
    )
    # The answer once, whole; the user's own message once.
    assert sum(answer in text for text in added) == 1
    assert sum("Tell me about the fox" in text for text in added) == 1
    # The conversation log has a name, and is not itself read out chunk by chunk.
    thread = page.get_by_role("log", name="Conversation")
    expect(thread).to_have_attribute("aria-live", "off")
