"""Real server subprocesses pointed (through real LiteLLM) at a fake OpenAI server on 127.0.0.1."""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.fakes.postgres import (
    PostgresServer,
    PostgresUnavailable,
    create_database,
    drop_database,
    skip_or_fail_without_postgres,
    start_postgres,
)
from tests.fakes.providers import FakeOpenAI
from tests.fakes.server_process import ServerProcess, start_server
from tests.integration.live_client import LiveClient, disconnect_all

API_KEY = "sk-test-SECRET"


def provider_env(fake: FakeOpenAI, **extra: str) -> dict[str, str]:
    return {
        "LITELLM_CHAT_MODEL": "openai/fake-model",
        "LITELLM_API_BASE": fake.api_base,
        "LITELLM_API_KEY": API_KEY,
        # Retries would multiply requests to the fake and make counts ambiguous.
        "LITELLM_NUM_RETRIES": "0",
        "DIRECTOR_ALLOW_PRIVATE_URLS": "true",
        **extra,
    }


@pytest.fixture
def servers() -> Iterator[list[ServerProcess]]:
    """Servers a test starts itself (append them); each is stopped and cleaned up afterwards."""
    started: list[ServerProcess] = []
    yield started
    for server in started:
        server.cleanup()


@pytest.fixture(scope="module")
def module_fake() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI()
    yield fake
    fake.close()


@pytest.fixture
def fake(module_fake: FakeOpenAI) -> FakeOpenAI:
    module_fake.reset()
    return module_fake


@pytest.fixture(scope="module")
def live_server(module_fake: FakeOpenAI) -> Iterator[ServerProcess]:
    server = start_server(provider_env(module_fake))
    server.wait_until_warm()
    yield server
    server.cleanup()


class ClientPool:
    """Connect clients on demand; disconnect them all in parallel at the end."""

    def __init__(self, url: str):
        self.url = url
        self.clients: list[LiveClient] = []

    def __call__(self, **kwargs) -> LiveClient:
        client = LiveClient(self.url, **kwargs)
        self.clients.append(client)
        return client


@pytest.fixture(scope="module")
def module_clients(live_server: ServerProcess) -> Iterator[ClientPool]:
    pool = ClientPool(live_server.url)
    yield pool
    disconnect_all(pool.clients)


@pytest.fixture
def client(module_clients: ClientPool) -> LiveClient:
    """One socket client shared by the module's tests (connecting/disconnecting is slow)."""
    if not module_clients.clients:
        module_clients()
    shared = module_clients.clients[0]
    shared.clear()
    return shared


@pytest.fixture
def new_clients() -> Iterator[Callable[..., LiveClient]]:
    made: list[LiveClient] = []

    def make(url: str, **kwargs) -> LiveClient:
        client = LiveClient(url, **kwargs)
        made.append(client)
        return client

    yield make
    disconnect_all(made)


class _PageHandler(BaseHTTPRequestHandler):
    pages: dict[str, tuple[str, float]] = {}

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - stdlib signature
        pass

    def do_GET(self) -> None:
        html, delay = self.pages.get(self.path, ("<html><body>not found</body></html>", 0.0))
        if delay:
            threading.Event().wait(delay)
        body = html.encode()
        try:
            self.send_response(200 if self.path in self.pages else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass


ARTICLE_HTML = """<!doctype html><html><head><title>Lighthouse Keeping Handbook</title></head><body>
<nav>Home | About | Contact</nav>
<article><h1>Lighthouse Keeping Handbook</h1>
<p>The keeper trims the wick at dusk and winds the clockwork that turns the great lens every night.</p>
<p>Fog signals are sounded every thirty seconds whenever visibility falls below two nautical miles.</p>
<p>Logbooks record weather, passing vessels and every change of the lamp, in ink, without gaps.</p>
</article><footer>Copyright 1901</footer></body></html>"""


@pytest.fixture(scope="module")
def web_pages() -> Iterator[str]:
    """A local website: /article (a real page) and /slow (answers after 5 s)."""

    class Handler(_PageHandler):
        pages = {"/article": (ARTICLE_HTML, 0.0), "/slow": (ARTICLE_HTML, 5.0)}

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def postgres_server() -> Iterator[PostgresServer]:
    try:
        server = start_postgres()
    except PostgresUnavailable as exc:
        skip_or_fail_without_postgres(str(exc))
    yield server
    server.stop()


@pytest.fixture
def postgres_dsn(postgres_server: PostgresServer) -> Iterator[str]:
    dsn = create_database(postgres_server)
    yield dsn
    drop_database(postgres_server, dsn)


@pytest.fixture
def cluster_dir() -> Iterator[Path]:
    # Not pytest's tmp_path: as root, PostgreSQL runs as user postgres, who cannot enter a private dir.
    path = Path(tempfile.mkdtemp(prefix="director-make-cluster-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)
