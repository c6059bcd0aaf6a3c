"""Usage and budgets benchmark (prints figures; not a test). Run: .venv/bin/python bench/usage.py [sqlite] [postgres]

On SQLite (a temp file) and a real PostgreSQL (TEST_POSTGRES_DSN, or a throwaway cluster), with 100,000 stored
model calls (90 days, 500 chats each active over up to 3 days, as chats are, 5 models):
- the budget check made before every model call (session and daily budget set): median and p99;
- what metering adds to a whole model call (check + the usage row + totals) around an instant LLM;
- GET /usage through the Flask app, per group_by, over the last 90 days: median and worst of 20.
Targets (issue 12): budget check <= 2 ms per call; GET /usage over 100,000 calls <= 200 ms.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from backends import on_each_backend  # noqa: E402 (after the path is set)

CALLS = 100_000
SESSIONS = 500
MODELS = [
    "openai/gpt-4o-mini",
    "openai/gpt-4o",
    "anthropic/claude-sonnet-4-5",
    "gemini/gemini-2.5-flash",
    None,
]
DAYS = 90
ROUNDS = 1000


def fill(db: Any) -> None:
    """100,000 calls written in bulk (one transaction), with the totals the per-call path maintains."""
    from director.db.schema import llm_calls, sessions, usage_totals
    from director.db.usage_statements import call_row, totals_increments

    rng = random.Random(12)
    now = time.time()
    rows, totals = [], {}
    starts = [now - rng.random() * DAYS * 86400 for _ in range(SESSIONS)]
    for i in range(CALLS):
        chat = rng.randrange(SESSIONS)
        created = min(starts[chat] + rng.random() * 3 * 86400, now)
        sid = f"s{chat}"
        model = rng.choice(MODELS)
        row = {
            "call_id": f"c{i}",
            "session_id": sid,
            "msg_id": f"m{i // 3}",
            "agent": rng.choice([None, None, "summarize"]),
            "model": model,
            "input_tokens": rng.randrange(100, 5000),
            "output_tokens": rng.randrange(10, 800),
            "cached_tokens": 0,
            "cost_usd": None if model is None else rng.random() / 100,
            "latency_ms": rng.random() * 3000,
            "outcome": "success",
            "created_at": created,
        }
        row = call_row(row, created)
        rows.append(row)
        for increment in totals_increments(row):
            total = totals.setdefault((increment["scope"], increment["key"]), dict(increment))
            if total is not increment:
                for field, value in increment.items():
                    if field not in ("scope", "key"):
                        total[field] += value
    total_rows = list(totals.values())
    db.prepare()
    with db._engine.begin() as conn:
        conn.execute(
            sessions.insert(),
            [
                {
                    "session_id": f"s{i}",
                    "title": f"Chat {i}",
                    "created_at": now,
                    "updated_at": now,
                    "metadata": "{}",
                }
                for i in range(SESSIONS)
            ],
        )
        conn.execute(llm_calls.insert(), rows)
        conn.execute(usage_totals.insert(), total_rows)


def ms(samples: list[float]) -> str:
    samples = sorted(samples)
    p99 = samples[int(len(samples) * 0.99) - 1]
    return f"median {statistics.median(samples) * 1000:6.3f} ms, p99 {p99 * 1000:6.3f} ms"


def bench(name: str, db: Any) -> None:
    from director.core.budget import Budget, BudgetSettings
    from director.core.metered_llm import CallScope, UsageMeter
    from director.entrypoint.api.app import create_app

    from tests.fakes.scripted_llm import ScriptedLLM, text_response

    started = time.perf_counter()
    fill(db)
    print(f"{name}: {CALLS:,} calls stored in {time.perf_counter() - started:.1f} s")

    budget = Budget(
        BudgetSettings.model_construct(
            session_budget_usd=1e9, daily_budget_usd=1e9, allow_unpriced_models=False
        ),
        db.get_spend,
        lambda _model: True,
    )
    models = ["openai/gpt-4o-mini"]
    samples = []
    for i in range(ROUNDS):
        t = time.perf_counter()
        budget.check(f"s{i % SESSIONS}", models)
        samples.append(time.perf_counter() - t)
    print(f"  budget check before a call:        {ms(samples)}   (target <= 2 ms)")

    llm = ScriptedLLM()
    bare, metered_samples = [], []
    metered = UsageMeter(db, budget).wrap(llm, CallScope(session_id="s1"))
    for _ in range(ROUNDS // 4):
        llm.queue(text_response("hi"), text_response("hi"))
        t = time.perf_counter()
        llm.chat_completions([{"role": "user", "content": "x"}])
        bare.append(time.perf_counter() - t)
        t = time.perf_counter()
        metered.chat_completions([{"role": "user", "content": "x"}])
        metered_samples.append(time.perf_counter() - t)
    added = statistics.median(metered_samples) - statistics.median(bare)
    print(f"  metering per call (check + record): {added * 1000:6.3f} ms added (median)")

    app, _ = create_app(llm=llm, db=db, agents=[])
    client = app.test_client()
    since = time.time() - DAYS * 86400
    for group_by in ("day", "model", "session"):
        times = []
        for _ in range(20):
            t = time.perf_counter()
            response = client.get(f"/usage?since={since}&group_by={group_by}")
            times.append(time.perf_counter() - t)
            assert response.status_code == 200, response.get_json()
        rows = len(response.get_json()["rows"])
        print(
            f"  GET /usage group_by={group_by:<8} median {statistics.median(times) * 1000:6.1f} ms, "
            f"worst {max(times) * 1000:6.1f} ms ({rows} rows)   (target <= 200 ms)"
        )


def main() -> int:
    os.environ.setdefault("DIRECTOR_LOG_LEVEL", "warning")
    os.environ["DIRECTOR_ENV_FILE"] = os.devnull
    on_each_backend(bench, sys.argv[1:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
