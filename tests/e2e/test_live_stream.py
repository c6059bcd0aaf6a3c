"""Reloading mid-answer in Chromium: the text grows from what was shown, nothing lost or repeated."""

from __future__ import annotations

import time

from playwright.sync_api import expect

from tests.e2e.harness import UI
from tests.fakes.providers import FakeOpenAI, Reply

# Numbered words: a lost or repeated one shows in the text, and every prefix is unambiguous.
WORDS = [f"w{i:03d} " for i in range(150)]
FULL = "".join(WORDS).strip()


def observe_until_done(ui: UI, timeout_s: float = 60.0) -> list[str]:
    """Every distinct answer text shown, in order, until the turn ends."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        text = " ".join(ui.answer().inner_text().split()) if ui.answer().count() else ""
        if text and (not seen or seen[-1] != text):
            seen.append(text)
        if ui.assistant().count() and ui.assistant().get_attribute("data-status") == "success":
            seen.append(" ".join(ui.answer().inner_text().split()))
            return seen
        time.sleep(0.05)
    raise AssertionError(f"the answer did not finish; last seen: {seen[-1:]!r}")


def test_reload_mid_stream_continues_from_what_was_shown(ui: UI, fake: FakeOpenAI) -> None:
    fake.script(Reply(text="".join(WORDS), chunks=WORDS, chunk_delay=0.08))
    ui.open().send("Count slowly")
    expect(ui.answer()).to_contain_text("w020")
    shown_before = " ".join(ui.answer().inner_text().split())
    assert shown_before and not shown_before.endswith("w149")

    ui.page.reload()
    seen = observe_until_done(ui)

    assert seen[0].startswith(shown_before), "after the reload, at least what was shown before"
    for earlier, later in zip(seen, seen[1:], strict=False):
        assert later.startswith(earlier), f"the text only grows: {earlier[-30:]!r} -> {later[-30:]!r}"
    assert seen[-1] == FULL, "every word once, in order"
    # It streamed on after the reload rather than appearing whole at the end.
    assert len(seen) > 3
