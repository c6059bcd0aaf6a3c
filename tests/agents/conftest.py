from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

ARTICLE = """<!doctype html><html><head><title>Otters of the North</title></head><body>
<nav><a href="/">Home</a> | <a href="/about">About</a></nav>
<article><h1>Otters of the North</h1>
<p>Sea otters hold hands while they sleep so that they do not drift apart in the current.
They live along the coasts of the northern Pacific Ocean and eat sea urchins, crabs and clams.</p>
<p>An otter's fur is the densest of any animal, with up to a million hairs per square inch,
which keeps it warm in cold water without a layer of blubber.</p>
</article><footer>Copyright 2024 Example Footer Inc.</footer></body></html>"""


class PageHandler(BaseHTTPRequestHandler):
    routes: dict[str, tuple[int, str, bytes, dict[str, str]]] = {}
    received: list[tuple[str, str | None]] = []  # (path, Host header) of every request

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.received.append((self.path, self.headers.get("Host")))
        status, ctype, body, headers = self.routes.get(self.path, (404, "text/plain", b"not found", {}))
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class PageServer:
    def __init__(self) -> None:
        handler = type("Handler", (PageHandler,), {"routes": {}, "received": []})
        self.routes = handler.routes
        self.received = handler.received
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def add(
        self,
        path: str,
        body: str | bytes,
        ctype: str = "text/html; charset=utf-8",
        status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> str:
        data = body.encode() if isinstance(body, str) else body
        self.routes[path] = (status, ctype, data, headers or {})
        return self.base + path

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def pages() -> Iterator[PageServer]:
    server = PageServer()
    server.add("/article", ARTICLE)
    yield server
    server.close()
