"""The chat UI end to end: real Chromium, real server, real LiteLLM, fake OpenAI-compatible provider."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import APIResponse, Browser, Route, expect

from tests.e2e.harness import PHONE, UI, WAIT_MS, GatedReply, new_page, screenshot
from tests.fakes.providers import FAKE_API_KEY, FakeOpenAI, Reply
from tests.fakes.server_process import ServerProcess

pytestmark = pytest.mark.e2e


def wait_for_log(server: ServerProcess, text: str, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while text not in server.logs():
        assert time.monotonic() < deadline, f"{text!r} never appeared in the server log"
        time.sleep(0.02)


def tool_names(request_json: dict) -> list[str]:
    return [tool["function"]["name"] for tool in request_json.get("tools") or []]


def test_answer_streams_in_before_it_is_complete(ui: UI, fake: FakeOpenAI) -> None:
    reply = GatedReply(["Hello", " from", " the", " fake model."])
    fake.script(reply)
    ui.open().send("Say hello")

    expect(ui.page.locator('[data-role="user"]').last).to_contain_text("Say hello")
    assert reply.first_sent.wait(10)
    # The first chunk is on screen while the provider still holds the rest: that is streaming.
    expect(ui.answer()).to_contain_text("Hello")
    expect(ui.assistant()).to_have_attribute("data-status", "progress")
    assert "fake model" not in ui.answer().inner_text()
    expect(ui.page.get_by_role("button", name="Stop")).to_be_visible()
    screenshot(ui.page, "streaming")

    reply.release()
    expect(ui.answer()).to_have_text("Hello from the fake model.")
    expect(ui.assistant()).to_have_attribute("data-status", "success")
    # The server made the session: its id is adopted into the URL and it shows in the sidebar.
    expect(ui.page).to_have_url(re.compile(r"\?session=[\w.:-]+$"))
    expect(ui.sessions.first).to_contain_text("Say hello")
    expect(ui.sessions.first).to_have_attribute("aria-current", "page")
    screenshot(ui.page, "desktop-light")


def test_agent_turn_shows_its_step_and_result(ui: UI, fake: FakeOpenAI) -> None:
    fake.script(
        Reply(tool_calls=[("pricing", {"models": ["gpt-4o-mini"]})]),
        Reply(text="**gpt-4o-mini** is the cheap one.\n\n```python\nprint('hi')\n```"),
    )
    ui.open().send("How much does gpt-4o-mini cost?")

    step = ui.assistant().locator('.step[data-agent="pricing"]')
    expect(step).to_have_attribute("data-status", "success")
    expect(ui.answer()).to_contain_text("gpt-4o-mini is the cheap one.")
    expect(ui.answer().locator("strong")).to_have_text("gpt-4o-mini")
    expect(ui.answer().locator(".code-block .copy-btn")).to_be_visible()
    expect(ui.answer().locator(".code-block .hljs-built_in")).to_have_text("print")

    # Expanding the step shows what the agent returned (its JSON data).
    head = step.locator("button.step-head")
    expect(head).to_have_attribute("aria-expanded", "false")
    head.click()
    expect(head).to_have_attribute("aria-expanded", "true")
    expect(step.locator(".json-view")).to_contain_text("gpt-4o-mini")
    # Keyboard: the focused step shows a visible focus ring and Enter folds it again.
    head.focus()
    ui.page.keyboard.press("Enter")
    expect(head).to_have_attribute("aria-expanded", "false")
    ui.page.keyboard.press("Tab")  # a keyboard focus, so :focus-visible applies
    ui.page.keyboard.press("Shift+Tab")
    expect(head).to_be_focused()
    assert head.evaluate("el => getComputedStyle(el).outlineStyle") == "solid"
    # The code block's Copy button puts the code on the clipboard.
    ui.page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    copy = ui.answer().locator(".code-block .copy-btn")
    copy.click()
    expect(copy).to_have_text("Copied")
    assert ui.page.evaluate("() => navigator.clipboard.readText()") == "print('hi')\n"

    # Without @mentions every agent is offered to the model.
    assert {"pricing", "web_reader"} <= set(tool_names(fake.requests[0].json))
    # The agent's result went back to the model as a tool message.
    assert any(m.get("role") == "tool" for m in fake.requests[1].json["messages"])
    # What the turn's two model calls used, as the provider reported it (the fake model has no price).
    usage = ui.assistant().get_by_test_id("usage")
    expect(usage).to_have_text("openai/fake-model · 30 tokens")
    expect(usage).to_have_attribute("title", "2 model calls: 20 in, 10 out, price unknown for this model")
    screenshot(ui.page, "turn-with-steps")


def test_failed_agent_is_shown_in_its_step(ui: UI, fake: FakeOpenAI) -> None:
    fake.script(
        Reply(tool_calls=[("web_reader", {"url": "http://127.0.0.1:9/nothing-here"})]),
        Reply(text="I could not read that page."),
    )
    ui.open().send("Read http://127.0.0.1:9/nothing-here")
    step = ui.assistant().locator('.step[data-agent="web_reader"]')
    expect(step).to_have_attribute("data-status", "error")
    expect(step.locator(".message")).not_to_be_empty()
    expect(ui.answer()).to_contain_text("I could not read that page.")


def test_mention_autocomplete_restricts_the_turn_to_that_agent(ui: UI, fake: FakeOpenAI) -> None:
    fake.script(Reply(text="Only pricing was offered."))
    ui.open()
    ui.box.click()
    ui.box.press_sequentially("@pri")
    menu = ui.page.get_by_role("listbox", name="Agents")
    expect(menu).to_be_visible()
    expect(menu.get_by_role("option").first).to_contain_text("@pricing")
    ui.box.press("Enter")  # picks the highlighted agent, does not send
    expect(menu).to_be_hidden()
    expect(ui.box).to_have_value("@pricing ")
    ui.box.press_sequentially("what does gpt-4o cost?")
    ui.box.press("Enter")

    expect(ui.answer()).to_have_text("Only pricing was offered.")
    expect(ui.page.locator('[data-role="user"]').last.locator(".chip")).to_have_text("@pricing")
    assert tool_names(fake.requests[-1].json) == ["pricing"]


def test_shift_enter_adds_a_line_and_enter_sends(ui: UI, fake: FakeOpenAI) -> None:
    fake.script(Reply(text="Two lines received."))
    ui.open()
    ui.box.click()
    ui.box.press_sequentially("first line")
    ui.box.press("Shift+Enter")
    ui.box.press_sequentially("second line")
    expect(ui.box).to_have_value("first line\nsecond line")
    assert fake.requests == []
    ui.box.press("Enter")
    expect(ui.answer()).to_have_text("Two lines received.")
    assert fake.requests[-1].json["messages"][-1]["content"] == "first line\nsecond line"


def test_stop_ends_the_turn_and_keeps_the_partial_answer(
    ui: UI, fake: FakeOpenAI, server: ServerProcess
) -> None:
    reply = GatedReply(["Partial answer", " more", " and more", " until the end."])
    fake.script(reply)
    ui.open().send("Write a long essay")
    assert reply.first_sent.wait(10)
    expect(ui.answer()).to_contain_text("Partial answer")

    ui.page.get_by_role("button", name="Stop").click()
    # Socket.IO gives no acknowledgement: the server's log line is the proof the stop arrived.
    # Only then release the provider, so the engine meets the stop at its next safe point.
    wait_for_log(server, "stop requested for session")
    reply.release()
    expect(ui.assistant().locator('[data-testid="stopped"]')).to_have_text("Stopped")
    # Its own final state: neither running nor a complete answer.
    expect(ui.assistant()).to_have_attribute("data-status", "stopped")
    expect(ui.answer()).to_contain_text("Partial answer")
    expect(ui.page.get_by_role("button", name="Send message")).to_be_visible()


def test_model_html_is_shown_as_text_and_never_executed(ui: UI, fake: FakeOpenAI) -> None:
    img = '<img src=x onerror="window.__xss=1;alert(1)">'
    script = "<script>window.__xss=2;alert(2)</script>"
    fake.script(Reply(text=f"Here: {img} and {script} done"))
    ui.open().send('Echo <img src=y onerror="window.__xss=3">')

    expect(ui.answer()).to_contain_text(img)
    expect(ui.answer()).to_contain_text(script)
    expect(ui.page.locator('[data-role="user"]').last).to_contain_text('<img src=y onerror="window.__xss=3">')
    assert ui.page.locator('[data-testid="thread"] img').count() == 0
    assert ui.page.locator('[data-testid="thread"] script').count() == 0
    assert ui.page.evaluate("() => window.__xss === undefined")
    # Re-rendered from storage, it is still inert.
    ui.page.reload()
    expect(ui.answer()).to_contain_text(img)
    assert ui.page.locator('[data-testid="thread"] img').count() == 0
    assert ui.page.evaluate("() => window.__xss === undefined")


def test_provider_error_is_shown_in_the_answer_with_its_advice(ui: UI, fake: FakeOpenAI) -> None:
    fake.responder = lambda request: Reply(status=401)
    ui.open().send("Hello?")

    expect(ui.assistant()).to_have_attribute("data-status", "error")
    error = ui.assistant().locator(".error-answer")
    expect(error).to_be_visible()
    expect(error).to_contain_text("API key")
    expect(error).to_contain_text("LITELLM_API_KEY")
    assert FAKE_API_KEY not in ui.page.content()
    screenshot(ui.page, "provider-error")
    # The failed turn is over: the user can send again.
    expect(ui.page.get_by_role("button", name="Send message")).to_be_visible()
    # Once the key is fixed, one click asks the same question again, as a new turn.
    fake.responder = None
    fake.script(Reply(text="Hello! Key accepted."))
    ui.assistant().get_by_test_id("retry-answer").click()
    expect(ui.answer()).to_have_text("Hello! Key accepted.")
    users = [m["content"] for m in fake.requests[-1].json["messages"] if m["role"] == "user"]
    assert users == ["Hello?"]  # asked once, not once per attempt
    expect(ui.page.locator('[data-role="user"]')).to_have_count(2)
    # Only the latest answer offers a retry.
    expect(ui.page.get_by_test_id("retry-answer")).to_have_count(0)


def test_sessions_switch_reload_and_delete(ui: UI, fake: FakeOpenAI) -> None:
    fake.script(Reply(text="Answer about apples."), Reply(text="Answer about pears."))
    ui.open().send("Tell me about apples")
    expect(ui.answer()).to_have_text("Answer about apples.")
    apples_url = ui.page.url

    ui.page.keyboard.press("Control+k")
    expect(ui.page.get_by_role("heading", name="What can I help you with?")).to_be_visible()
    expect(ui.page).not_to_have_url(re.compile(r"session="))
    expect(ui.box).to_be_focused()
    ui.send("Tell me about pears")
    expect(ui.answer()).to_have_text("Answer about pears.")

    # Newest first.
    expect(ui.sessions.nth(0)).to_contain_text("Tell me about pears")
    expect(ui.sessions.nth(1)).to_contain_text("Tell me about apples")

    ui.sessions.nth(1).click()
    thread = ui.page.locator('[data-testid="thread"]')
    expect(thread).to_contain_text("Answer about apples.")
    expect(thread).not_to_contain_text("pears")
    assert ui.page.url == apples_url

    # A reload shows the whole history from the server.
    ui.page.reload()
    expect(ui.page.locator('[data-role="user"] [data-testid="user-text"]')).to_have_text(
        ["Tell me about apples"]
    )
    expect(ui.answer()).to_have_text("Answer about apples.")

    # Back goes to the previous chat.
    ui.page.go_back()
    expect(thread).to_contain_text("Answer about pears.")

    # Delete asks first; cancelling keeps the chat.
    row = ui.page.locator('nav[aria-label="Chat history"] li', has_text="Tell me about pears")
    row.get_by_role("button", name=re.compile("Delete chat")).click()
    dialog = ui.page.get_by_role("dialog", name="Delete this chat?")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    expect(row).to_be_visible()
    row.get_by_role("button", name=re.compile("Delete chat")).click()
    ui.page.get_by_role("dialog", name="Delete this chat?").get_by_role("button", name="Delete").click()
    expect(row).to_have_count(0)
    # It was the open chat: the view is a new chat now, and the server no longer has it.
    expect(ui.page.get_by_role("heading", name="What can I help you with?")).to_be_visible()
    # Focus went somewhere useful, not to the top of the page with the removed button.
    expect(ui.box).to_be_focused()
    titles = [s["title"] for s in ui.page.request.get("/session").json()]
    assert "Tell me about pears" not in titles
    assert "Tell me about apples" in titles


def test_phone_width_and_dark_mode(browser: Browser, server: ServerProcess, fake: FakeOpenAI) -> None:
    fake.script(
        Reply(tool_calls=[("pricing", {"models": ["gpt-4o-mini", "claude-sonnet-4-5"]})]),
        Reply(text="Here is the comparison:\n\n| model | note |\n|---|---|\n| gpt-4o-mini | cheap |"),
    )
    context, page, watch = new_page(browser, server.url, color_scheme="dark")
    try:
        ui = UI(page, watch).open()
        background = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
        assert background == "rgb(23, 24, 28)"  # the dark palette, from prefers-color-scheme
        ui.send("Compare gpt-4o-mini and claude-sonnet-4-5")
        expect(ui.assistant().locator('.step[data-agent="pricing"]')).to_have_attribute(
            "data-status", "success"
        )
        expect(ui.answer().locator("table")).to_be_visible()
        screenshot(page, "desktop-dark")

        page.set_viewport_size(PHONE)
        toggle = page.get_by_role("button", name="Show chats")
        expect(toggle).to_be_visible()
        sidebar = page.locator("#sidebar")
        expect(sidebar).to_be_hidden()
        # Nothing overflows sideways on a phone.
        assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
        screenshot(page, "phone-dark")
        # Phones zoom into fields under 16px on focus: the message box must not trigger that.
        assert page.locator("#composer-input").evaluate("el => getComputedStyle(el).fontSize") == "16px"
        toggle.click()
        expect(sidebar).to_be_visible()
        expect(toggle).to_have_attribute("aria-expanded", "true")
        # The drawer takes the focus (keyboard users are not left behind the scrim)...
        expect(sidebar.get_by_role("button", name="New chat")).to_be_focused()
        # The drawer slides in: wait for it to settle before the screenshot.
        page.wait_for_function(
            "() => getComputedStyle(document.getElementById('sidebar')).transform === 'none'"
        )
        screenshot(page, "phone-sidebar-dark")
        page.keyboard.press("Escape")
        expect(sidebar).to_be_hidden()
        # ... and gives it back to its button when dismissed.
        expect(toggle).to_be_focused()
        # Picking a chat in the drawer closes it and readies the message box.
        toggle.click()
        sidebar.locator(".item").first.click()
        expect(sidebar).to_be_hidden()
        expect(page.locator("#composer-input")).to_be_focused()
        assert watch.errors == []
    finally:
        context.close()


def test_phone_light_new_chat(browser: Browser, server: ServerProcess) -> None:
    context, page, watch = new_page(browser, server.url, viewport=PHONE)
    try:
        UI(page, watch).open()
        expect(page.get_by_role("heading", name="What can I help you with?")).to_be_visible()
        assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
        screenshot(page, "phone-light")
        assert watch.errors == []
    finally:
        context.close()


def test_lost_connection_shows_a_banner_and_resumes(ui: UI, server: ServerProcess, fake: FakeOpenAI) -> None:
    # Last in the module: it restarts the server (same port, same database).
    fake.script(Reply(text="Before the restart."), Reply(text="After the restart."))
    ui.open().send("First question")
    expect(ui.answer()).to_have_text("Before the restart.")

    server.stop()
    banner = ui.page.get_by_test_id("connection-banner")
    expect(banner).to_be_visible()
    ui.box.fill("typed while offline")
    send_button = ui.page.get_by_role("button", name="Send message")
    expect(send_button).to_be_disabled()
    # On reconnecting, the page reloads the chat's stored copy. Fetch that copy at once but deliver
    # it only after the next turn is answered: a reload that left before a send must not wipe that
    # turn off the screen (CI once caught this race by chance).
    held: list[tuple[Route, APIResponse]] = []
    reload = re.compile(r"/session/[^/?]+\?")
    ui.page.route(reload, lambda route: held.append((route, route.fetch())))
    server.start()
    expect(banner).to_be_hidden(timeout=30_000)
    # The browser logged its refused reconnection attempts while the server was down: expected, and
    # cleared now so that a failure below is reported alone and a later console error still counts.
    ui.watch.errors.clear()
    expect(send_button).to_be_enabled()
    # Nothing on screen was lost, and the session carries on in the same room.
    expect(ui.answer()).to_have_text("Before the restart.")
    # The page sends its reload as it reconnects, but Playwright hands the route to this thread only
    # when it next waits: send only once the stale copy is in hand, or a slow machine fetches it
    # after the send and it is not stale at all (CI did, once).
    wait_for_held(ui, held)
    assert "Second question" not in held[0][1].text()
    ui.send("Second question")
    expect(ui.answer()).to_have_text("After the restart.")
    assert len(held) == 1, "the reconnect reloaded the chat more than once"
    route, stale = held[0]
    with ui.page.expect_request_finished(lambda request: request.url == route.request.url):
        route.fulfill(response=stale)
    ui.page.unroute(reload)
    ui.page.evaluate("() => new Promise((resolve) => setTimeout(resolve, 200))")  # let it be applied
    expect(ui.page.locator('[data-role="user"]')).to_have_count(2)
    expect(ui.answer()).to_have_text("After the restart.")
    # The model saw the earlier turn: the session resumed, it did not start over.
    assert "First question" in str(fake.requests[-1].json["messages"])


def wait_for_held(ui: UI, held: list[tuple[Route, APIResponse]]) -> None:
    """Let Playwright run the route handler until it has fetched the page's reload."""
    deadline = time.monotonic() + WAIT_MS / 1000
    while not held and time.monotonic() < deadline:
        ui.page.wait_for_timeout(50)  # waiting on the page is what dispatches the handler
    assert held, "the reconnect did not reload the chat"
