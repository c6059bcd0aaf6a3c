"""Shared machinery for the browser tests: the built frontend, a real server, the system Chromium.

Playwright drives ``/usr/bin/chromium`` (never a downloaded browser). Each page records console
errors and uncaught exceptions so tests can assert the main flows are clean.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Locator,
    Page,
    Playwright,
    expect,
    sync_playwright,
)

from tests.fakes.providers import Reply

REPO_ROOT = Path(__file__).resolve().parents[2]
FRONTEND = REPO_ROOT / "frontend"
DIST_INDEX = FRONTEND / "dist" / "index.html"
# axe-core, pinned in frontend/package.json (a devDependency: it never ships in dist).
AXE_JS = FRONTEND / "node_modules" / "axe-core" / "axe.min.js"
# The app's CSP allows scripts from 'self' only (no inline script, so no add_script_tag(path=...)).
# The test serves axe at a same-origin URL that only Playwright answers, for this page only: the
# CSP the app ships stays as it is.
AXE_URL = "/__e2e__/axe.min.js"
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
SCREENSHOTS = REPO_ROOT / "test-artifacts" / "screenshots"
CHROMIUM = os.environ.get("DIRECTOR_E2E_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
DESKTOP = {"width": 1280, "height": 820}
PHONE = {"width": 390, "height": 844}
# Generous: a freshly started server imports LiteLLM (2-5 s on 2 cores) before its first answer, and
# Playwright's waits return as soon as the condition holds, so this costs nothing when things are fast.
WAIT_MS = 20_000
expect.set_options(timeout=WAIT_MS)


def _newest_mtime(paths: list[Path]) -> float:
    newest = 0.0
    for path in paths:
        if path.is_dir():
            newest = max([newest, *(p.stat().st_mtime for p in path.rglob("*") if p.is_file())])
        elif path.exists():
            newest = max(newest, path.stat().st_mtime)
    return newest


def ensure_frontend_built() -> None:
    """Build frontend/dist when it is missing or older than its sources (``make`` normally did it)."""
    sources = [
        FRONTEND / "src",
        FRONTEND / "index.html",
        FRONTEND / "vite.config.js",
        FRONTEND / "package.json",
    ]
    if DIST_INDEX.exists() and DIST_INDEX.stat().st_mtime >= _newest_mtime(sources):
        return
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("frontend/dist is missing or stale and npm is not installed to build it")
    if not (FRONTEND / "node_modules").is_dir():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=FRONTEND, check=True)
    subprocess.run([npm, "run", "build"], cwd=FRONTEND, check=True, capture_output=True)


def launch_browser(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)


@dataclass
class PageWatch:
    """Console errors and uncaught exceptions seen by one page."""

    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def attach(self, page: Page) -> None:
        page.on("console", self._on_console)
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))

        def on_dialog(dialog) -> None:  # noqa: ANN001 - playwright's Dialog
            self.dialogs.append(f"{dialog.type}: {dialog.message}")
            dialog.dismiss()

        page.on("dialog", on_dialog)

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text}")


def new_page(browser: Browser, base_url: str, **context_options) -> tuple[BrowserContext, Page, PageWatch]:
    context = browser.new_context(base_url=base_url, **{"viewport": DESKTOP, **context_options})
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    watch = PageWatch()
    watch.attach(page)
    return context, page, watch


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path


class UI:
    """The page plus the few locators every test needs."""

    def __init__(self, page: Page, watch: PageWatch):
        self.page = page
        self.watch = watch
        self.box = page.locator("#composer-input")
        self.sessions = page.locator('nav[aria-label="Chat history"] .item')

    def open(self, path: str = "/") -> UI:
        self.page.goto(path)
        expect(self.page.locator('.layout[data-connected="true"]')).to_be_attached()
        return self

    def send(self, text: str) -> None:
        self.box.fill(text)
        # Enter sends only once the previous turn is over (Stop stands where Send is until then): an
        # answer's text can be complete on screen a moment before its final event arrives.
        expect(self.page.get_by_role("button", name="Send message")).to_be_enabled()
        self.box.press("Enter")

    def assistant(self, nth: int = -1) -> Locator:
        turns = self.page.locator('[data-role="assistant"]')
        return turns.last if nth == -1 else turns.nth(nth)

    def answer(self, nth: int = -1) -> Locator:
        return self.assistant(nth).locator('[data-testid="answer"]')


class GatedReply(Reply):
    """A streamed reply that sends its first chunk, then holds the rest until ``release()``.

    This makes "a partial answer is on screen before the final one" observable without timing:
    the test sees the first chunk, checks the final text is absent, then releases the rest.
    """

    def __init__(self, chunks: list[str], **kwargs):
        super().__init__(text="".join(chunks), chunks=chunks, **kwargs)
        self.first_sent = threading.Event()
        self._gate = threading.Event()

    def release(self) -> None:
        self._gate.set()

    def text_chunks(self) -> Iterator[str]:  # type: ignore[override] - a lazy iterator on purpose
        chunks = super().text_chunks()
        yield chunks[0]
        self.first_sent.set()
        # Bounded, so a failing test never leaves the fake's thread hanging forever.
        self._gate.wait(timeout=30)
        yield from chunks[1:]


def axe_violations(page: Page) -> list[str]:
    """WCAG 2.1 A/AA violations axe-core finds on the page as it is now, one line per node."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.route(
            f"**{AXE_URL}",
            lambda route: route.fulfill(path=AXE_JS, content_type="text/javascript"),
        )
        page.add_script_tag(url=AXE_URL)
    violations = page.evaluate(
        """async (tags) => {
            const result = await window.axe.run(document, { runOnly: { type: 'tag', values: tags } })
            return result.violations.flatMap((v) =>
                v.nodes.map((n) => `${v.id} (${v.impact}): ${n.target.join(' ')}: ${n.failureSummary}`))
        }""",
        WCAG_21_AA,
    )
    return list(violations)


def start_playwright() -> tuple[Playwright, Browser]:
    playwright = sync_playwright().start()
    try:
        return playwright, launch_browser(playwright)
    except Exception:
        playwright.stop()
        raise
