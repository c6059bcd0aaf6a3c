"""The browser when every live-connection slot on the server is taken, and once one frees up."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.conftest import configured_env
from tests.e2e.harness import UI, new_page, screenshot
from tests.fakes.providers import FakeOpenAI, Reply
from tests.fakes.server_process import start_server
from tests.integration.live_client import LiveClient, disconnect_all

pytestmark = pytest.mark.e2e


def test_full_server_says_so_and_connects_when_a_slot_frees(
    browser: Browser, built_frontend: None, fake: FakeOpenAI
) -> None:
    # two socket slots (SERVER_MAX_SOCKETS: the same under the gevent worker)
    server = start_server(configured_env(fake, SERVER_THREADS="4", SERVER_MAX_SOCKETS="2"))
    others = [LiveClient(server.url), LiveClient(server.url)]
    context, page, watch = new_page(browser, server.url)
    try:
        page.goto("/")
        banner = page.get_by_test_id("connection-banner")
        expect(banner).to_contain_text("at capacity")
        screenshot(page, "server-full")
        disconnect_all(others[1:])
        others = others[:1]
        # The client's own retries get in once a slot is free; then it chats as usual.
        expect(page.locator('.layout[data-connected="true"]')).to_be_attached()
        expect(banner).to_have_count(0)
        fake.script(Reply(text="Got a seat."))
        ui = UI(page, watch)
        ui.send("Anyone there?")
        expect(ui.answer()).to_have_text("Got a seat.")
        # The only console errors are the refused (503) handshakes themselves.
        assert watch.errors and all("503" in error for error in watch.errors), watch.errors
    finally:
        context.close()
        disconnect_all(others)
        server.cleanup()
