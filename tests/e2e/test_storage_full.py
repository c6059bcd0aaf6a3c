"""The UI on a server whose disk is full (a real tmpfs under the SQLite file): the refused message says
why, and sending is held for the server's Retry-After instead of letting the user hammer it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.conftest import configured_env
from tests.e2e.harness import UI, new_page
from tests.fakes.providers import FakeOpenAI, Reply
from tests.fakes.server_process import ServerProcess, start_server
from tests.fakes.small_disk import SmallDisk, small_disk


@pytest.fixture
def disk() -> Iterator[SmallDisk]:
    with small_disk("16m") as mounted:
        yield mounted


@pytest.fixture
def full_disk_server(built_frontend: None, fake: FakeOpenAI, disk: SmallDisk) -> Iterator[ServerProcess]:
    env = configured_env(fake, SQLITE_DB_PATH=str(disk.path / "director.db"))
    process = start_server(env)
    try:
        yield process
    finally:
        process.cleanup()


def test_full_disk_refusal_is_explained_and_sending_waits(
    browser: Browser, fake: FakeOpenAI, disk: SmallDisk, full_disk_server: ServerProcess
) -> None:
    context, page, watch = new_page(browser, full_disk_server.url)
    ui = UI(page, watch)
    try:
        fake.script(Reply(text="Saved answer."))
        ui.open().send("before the disk fills")
        expect(ui.answer()).to_have_text("Saved answer.")

        disk.fill()
        ui.send("this one cannot be saved " + "z" * 20_000)
        refused = page.locator('[data-role="user"]').last
        expect(refused.get_by_role("alert")).to_contain_text("storage is full")
        expect(page.get_by_test_id("send-wait")).to_contain_text("You can send again in")
        expect(refused.get_by_role("button", name="Send again in")).to_be_disabled()
        ui.box.fill("and again")
        expect(page.get_by_role("button", name="Send message")).to_be_disabled()
        assert len(fake.requests) == 1  # nothing reached the model
    finally:
        context.close()
    assert watch.errors == [] and watch.dialogs == []
