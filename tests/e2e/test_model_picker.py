"""The model picker and images in real Chromium, against a real server whose LiteLLM talks to a fake
OpenAI server: search, a model without credentials, picking, reload, images to a vision model, and the
error a model without vision gets."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import configured_env
from tests.e2e.harness import UI, new_page
from tests.e2e.test_accessibility import assert_clean
from tests.fakes.providers import FakeOpenAI, Reply
from tests.fakes.server_process import ServerProcess, start_server

pytestmark = pytest.mark.e2e

VISION = "openai/gpt-4o"  # LiteLLM's map: vision
TEXT_ONLY = "openai/gpt-3.5-turbo"  # no vision
NO_KEY = "groq/llama-3.3-70b-versatile"  # no GROQ_API_KEY anywhere
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
PNG_URL = "data:image/png;base64," + base64.b64encode(PNG).decode()


@pytest.fixture(scope="module")
def server(built_frontend: None, fake: FakeOpenAI) -> Iterator[ServerProcess]:
    process = start_server(configured_env(fake, LITELLM_MODELS=f"{VISION},{TEXT_ONLY},{NO_KEY}"))
    process.wait_until_warm()
    try:
        yield process
    finally:
        process.cleanup()


@pytest.fixture
def ui(browser, server: ServerProcess) -> Iterator[UI]:
    context, page, watch = new_page(browser, server.url)
    yield UI(page, watch)
    context.close()
    assert watch.errors == [] and watch.dialogs == []


def open_picker(ui: UI):
    ui.page.get_by_test_id("model-chip").click()
    picker = ui.page.get_by_test_id("model-picker")
    expect(picker).to_be_visible()
    expect(picker.locator("#model-count")).to_contain_text("models")  # the catalog has loaded
    return picker


def pick(ui: UI, model: str) -> None:
    picker = open_picker(ui)
    picker.get_by_label("Search models").fill(model)
    picker.locator(f'button[data-model="{model}"]').click()
    expect(picker).to_be_hidden()
    expect(ui.page.get_by_test_id("chip-model")).to_have_text(model)


def test_search_and_a_model_without_credentials(ui: UI) -> None:
    ui.open()
    expect(ui.page.get_by_test_id("chip-model")).to_have_text("openai/fake-model")
    picker = open_picker(ui)
    assert_clean(ui.page, "model picker")
    # Curated first: the default, then LITELLM_MODELS in order.
    first = picker.locator("button.option")
    expect(first.nth(0)).to_have_attribute("data-model", "openai/fake-model")
    expect(first.nth(1)).to_have_attribute("data-model", VISION)

    picker.get_by_label("Search models").fill("claude sonnet 4-5")
    options = picker.locator("button.option")
    expect(options.first).to_be_visible()
    for model in options.evaluate_all("(els) => els.map((e) => e.dataset.model)"):
        assert "claude" in model and "sonnet" in model and "4-5" in model

    picker.get_by_label("Search models").fill(NO_KEY)
    option = picker.locator(f'button[data-model="{NO_KEY}"]')
    expect(option.locator(".creds")).to_have_text("✗")
    note = option.get_by_test_id("cred-note")
    option.hover()
    expect(note).to_have_text("Credentials missing: set GROQ_API_KEY")
    assert note.bounding_box()["width"] > 50  # shown on hover, not just to screen readers
    # Keyboard users get it on focus too.
    ui.page.mouse.move(0, 0)
    picker.get_by_label("Search models").focus()
    ui.page.keyboard.press("Tab")
    expect(option).to_be_focused()
    assert note.bounding_box()["width"] > 50
    ui.page.keyboard.press("Escape")
    expect(picker).to_be_hidden()
    expect(ui.page.get_by_test_id("model-chip")).to_be_focused()


def test_pick_a_model_answer_by_it_and_reload(ui: UI, fake: FakeOpenAI) -> None:
    ui.open()
    pick(ui, VISION)
    fake.script(Reply(text="Answered by the picked model."))
    ui.send("Who are you?")
    expect(ui.answer()).to_have_text("Answered by the picked model.")
    expect(ui.assistant()).to_contain_text(VISION)  # the answer says which model wrote it
    assert fake.requests[-1].json["model"] == "gpt-4o"

    ui.page.reload()
    expect(ui.page.locator('.layout[data-connected="true"]')).to_be_attached()
    expect(ui.page.get_by_test_id("chip-model")).to_have_text(VISION)
    expect(ui.answer()).to_have_text("Answered by the picked model.")

    # A new chat starts on the model last picked in this browser.
    ui.page.get_by_role("button", name="New chat").first.click()
    expect(ui.page.get_by_test_id("chip-model")).to_have_text(VISION)


def test_an_image_reaches_a_vision_model_and_stays_in_the_history(
    ui: UI, fake: FakeOpenAI, tmp_path: Path
) -> None:
    image = tmp_path / "pixel.png"
    image.write_bytes(PNG)
    ui.open()
    pick(ui, VISION)
    ui.page.get_by_test_id("image-input").set_input_files(str(image))
    expect(ui.page.get_by_test_id("attachments").locator("img")).to_have_count(1)
    fake.script(Reply(text="One transparent pixel."))
    ui.send("What is this?")
    expect(ui.answer()).to_have_text("One transparent pixel.")
    parts = fake.requests[-1].json["messages"][-1]["content"]
    assert {"type": "image_url", "image_url": {"url": PNG_URL}} in parts

    ui.page.reload()
    shown = ui.page.get_by_test_id("user-images").locator("img")
    expect(shown).to_have_count(1)
    assert shown.get_attribute("src") == PNG_URL


def test_a_model_without_vision_gets_a_clear_error(ui: UI, fake: FakeOpenAI, tmp_path: Path) -> None:
    image = tmp_path / "pixel.png"
    image.write_bytes(PNG)
    ui.open()
    pick(ui, TEXT_ONLY)
    ui.page.get_by_test_id("image-input").set_input_files(str(image))
    ui.send("What is this?")
    error = ui.page.locator('[data-role="user"] .error')
    expect(error).to_contain_text(f"{TEXT_ONLY} cannot see images")
    expect(error).to_contain_text("openai/fake-model")  # an allowed vision model to switch to
    assert fake.requests == []
