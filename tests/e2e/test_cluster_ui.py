"""The chat UI once against `make cluster` (Redis, PostgreSQL, two servers, nginx): chat, reload and a
second tab on another process. The module's ``server`` fixture replaces the single server, so the
harness and the imported tests run unchanged through nginx."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, expect

from tests.e2e.conftest import configured_env
from tests.e2e.harness import UI, GatedReply, new_page
from tests.e2e.test_chat import (
    test_answer_streams_in_before_it_is_complete,
    test_sessions_switch_reload_and_delete,
)
from tests.e2e.test_chat_edge_cases import test_reload_during_a_running_turn_picks_it_up
from tests.fakes.cluster_command import ClusterCommand
from tests.fakes.providers import FAKE_API_KEY, FakeOpenAI, Reply
from tests.integration.live_client import LiveClient, disconnect_all

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.timeout(300)]

__all__ = [
    "test_answer_streams_in_before_it_is_complete",
    "test_reload_during_a_running_turn_picks_it_up",
    "test_sessions_switch_reload_and_delete",
]


@pytest.fixture(scope="module")
def server(built_frontend: None, fake: FakeOpenAI) -> Iterator[ClusterCommand]:
    cluster = ClusterCommand(configured_env(fake)).start()
    try:
        # Each process imports LiteLLM and makes its first call before a test waits seconds for an answer.
        fake.responder = lambda request: Reply(text="warm")
        warm = [LiveClient(url) for url in cluster.worker_urls]
        for client in warm:
            client.ask("warm up", timeout=120)
        disconnect_all(warm)
        fake.reset()
        yield cluster
    finally:
        logs = cluster.logs()
        cluster.cleanup()
        assert FAKE_API_KEY not in logs


def tab_on(browser: Browser, cluster: ClusterCommand, worker_port: int) -> tuple[BrowserContext, UI]:
    """A browser whose nginx route cookie leads to the server on ``worker_port``."""
    for key in range(200):
        context, page, watch = new_page(browser, cluster.url)
        context.add_cookies([{"name": "director_route", "value": f"tab-{key}", "url": cluster.url}])
        if context.request.get("/health").json()["worker"].endswith(f":{worker_port}"):
            return context, UI(page, watch)
        context.close()
    raise AssertionError(f"no route key led to port {worker_port}")


def test_a_second_tab_on_the_other_process_follows_the_chat(
    browser: Browser, server: ClusterCommand, fake
) -> None:
    first_port, second_port = (int(url.rsplit(":", 1)[1]) for url in server.worker_urls)
    first_context, first = tab_on(browser, server, first_port)
    second_context, second = tab_on(browser, server, second_port)
    try:
        fake.script(Reply(text="First answer."))
        first.open().send("Hello from tab one")
        expect(first.answer()).to_have_text("First answer.")
        expect(first.page).to_have_url(re.compile(r"\?session=\w+$"))
        session_url = first.page.url

        second.open(session_url.split(server.url, 1)[1])
        expect(second.answer()).to_have_text("First answer.")
        # A turn started in tab one, served by the other process, streams into tab two.
        reply = GatedReply(["Streaming", " to both", " tabs."])
        fake.script(reply)
        first.send("And again")
        assert reply.first_sent.wait(20)
        expect(second.answer()).to_contain_text("Streaming")
        # Tab two cannot start a second turn in that session meanwhile: the claim is cluster-wide.
        expect(second.page.get_by_role("button", name="Stop")).to_be_visible()
        reply.release()
        expect(second.answer()).to_have_text("Streaming to both tabs.")
        expect(first.answer()).to_have_text("Streaming to both tabs.")
        assert first.watch.errors == second.watch.errors == []
    finally:
        first_context.close()
        second_context.close()
