"""Long-chat benchmark (prints figures; not a test). Run: .venv/bin/python bench/long_chat.py [sqlite] [postgres] [chromium]

A 5,000-message session (linked question/answer pairs, as the server stores them):
- at the server, on SQLite (a temp file) and a real PostgreSQL (TEST_POSTGRES_DSN, or a throwaway cluster):
  the first page of ``GET /session/<id>?limit=50`` (find the shown branch, read its last 50 messages,
  serialise them), median of many, and the same for an older page and for the whole branch unpaged;
- in Chromium (a real server, real LiteLLM, a fake provider): the time from navigation to the chat's last
  message on screen, and the frames dropped (of ~60 a second) while an answer streams at the chat's end.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

MESSAGES = 5000
PAGE = 50
ROUNDS = 60


def median_ms(fn: Any, rounds: int = ROUNDS) -> float:
    fn()  # warm: connections, compiled statements
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def server_side(name: str, db: Any) -> None:
    from director.core.history import branch_page

    from tests.fakes.long_chat import seed_long_chat

    ids = seed_long_chat(db, "long", MESSAGES)
    first = median_ms(lambda: json.dumps(branch_page(db, "long", PAGE)))
    middle = median_ms(lambda: json.dumps(branch_page(db, "long", PAGE, before=ids[MESSAGES // 2])))
    whole = median_ms(lambda: json.dumps(branch_page(db, "long")), rounds=5)
    print(
        f"{name:<10} {MESSAGES} messages: first page of {PAGE} {first:6.1f} ms   "
        f"an older page {middle:6.1f} ms   whole branch unpaged {whole:7.1f} ms"
    )


def chromium() -> None:
    from director.db.sqlite import SQLiteDB
    from playwright.sync_api import expect

    from tests.e2e.harness import ensure_frontend_built, new_page, start_playwright
    from tests.fakes.long_chat import seed_long_chat
    from tests.fakes.providers import FAKE_API_KEY, FakeOpenAI, Reply
    from tests.fakes.server_process import start_server

    ensure_frontend_built()
    fake = FakeOpenAI()
    server = start_server(
        {
            "LITELLM_CHAT_MODEL": "openai/fake-model",
            "LITELLM_API_BASE": fake.api_base,
            "LITELLM_API_KEY": FAKE_API_KEY,
            "LITELLM_NUM_RETRIES": "0",
        }
    )
    playwright, browser = start_playwright()
    try:
        server.wait_until_warm()
        db = SQLiteDB(str(server.workdir / "director.db"))
        seed_long_chat(db, "long", MESSAGES)
        db.close()
        context, page, _ = new_page(browser, server.url)
        renders = []
        for _ in range(3):
            page.goto("/?session=long")
            expect(page.locator('[data-role="assistant"]').last).to_contain_text(
                f"Answer number {MESSAGES // 2 - 1}."
            )
            renders.append(page.evaluate("performance.now()"))
        # 200 chunks 25 ms apart: a 5 s answer streaming into the end of the 5,000-message chat.
        fake.script(Reply(text="".join(f"word{n} " for n in range(200)), chunk_delay=0.025))
        page.evaluate(
            """() => { window.__frames = []; const tick = (t) => { window.__frames.push(t);
               if (window.__frames.length < 100000) requestAnimationFrame(tick) }; requestAnimationFrame(tick) }"""
        )
        page.locator("#composer-input").fill("one more")
        page.locator("#composer-input").press("Enter")
        answer = page.locator('[data-role="assistant"]').last
        expect(answer).to_contain_text("word199", timeout=60000)
        expect(answer).to_have_attribute("data-status", "success")
        frames = page.evaluate("window.__frames")
        context.close()
    finally:
        browser.close()
        playwright.stop()
        server.cleanup()
        fake.close()
    gaps = [b - a for a, b in zip(frames, frames[1:], strict=False)]
    frame_ms = statistics.median(gaps)
    dropped = sum(max(0, round(gap / frame_ms) - 1) for gap in gaps)
    print(
        f"chromium   {MESSAGES} messages: first render {statistics.median(renders):6.0f} ms after navigation "
        f"(median of 3)   while an answer streamed {len(frames)} frames drawn, {dropped} dropped "
        f"(frame {frame_ms:.1f} ms, longest gap {max(gaps):.0f} ms)"
    )


def main() -> int:
    parts = set(sys.argv[1:]) or {"sqlite", "postgres", "chromium"}
    if "sqlite" in parts:
        from director.db.sqlite import SQLiteDB

        with tempfile.TemporaryDirectory() as tmp:
            db = SQLiteDB(str(Path(tmp) / "bench.db"))
            server_side("sqlite", db)
            db.close()
    if "postgres" in parts:
        from director.db.postgres import PostgresDB

        from tests.fakes.postgres import create_database, drop_database, start_postgres

        server = start_postgres()
        dsn = create_database(server)
        try:
            db = PostgresDB(dsn)
            server_side("postgres", db)
            db.close()
        finally:
            drop_database(server, dsn)
            server.stop()
    if "chromium" in parts:
        chromium()
    return 0


if __name__ == "__main__":
    sys.exit(main())
