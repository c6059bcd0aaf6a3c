"""DB-layer benchmark (prints figures; not a test). Run: .venv/bin/python bench/db.py [sqlite] [postgres]

Per-call time of each BaseDB method, median of many calls, single thread, on SQLite (a temp file) and on a
real PostgreSQL (TEST_POSTGRES_DSN, or a throwaway cluster): what a turn pays for each save and read.
Then the writes a turn makes, from 8 threads at once (calls per second). Only the public BaseDB API is
used, so the same file measures any version of the layer (e.g. the code on main, for a comparison).
"""

from __future__ import annotations

import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from backends import on_each_backend  # noqa: E402 (after the path is set)

ROUNDS = 400
THREADS = 8
PER_THREAD = 150


def message(
    session_id: str, msg_id: str, text: str = "a streamed answer, part way through"
) -> dict[str, Any]:
    return {
        "session_id": session_id,
        "conv_id": "conv-1",
        "msg_id": msg_id,
        "msg_type": "output",
        "status": "progress",
        "actions": ["Asked the model"],
        "agents": ["pricing"],
        "content": [{"type": "text", "status": "progress", "agent_name": None, "text": text * 4}],
        "created_at": time.time(),
        "metadata": {"usage": {"input_tokens": 120, "output_tokens": 30}},
    }


CONTEXT = [{"role": "user", "content": "What does gpt-4o cost?"}] + [
    {"role": "assistant", "content": f"step {i}", "tool_calls": [{"id": f"c{i}", "type": "function"}]}
    for i in range(9)
]


def per_call_us(fn: Callable[[int], Any]) -> float:
    for i in range(20):  # warm: connections, prepared statements, compiled-statement caches
        fn(-1 - i)
    times = []
    for i in range(ROUNDS):
        started = time.perf_counter()
        fn(i)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1e6


def bench(name: str, db: Any) -> None:
    for i in range(100):
        db.create_session(f"listed-{i}", title=f"Chat {i}")
    for i in range(20):
        db.add_or_update_msg_to_conv(message("read", f"m{i}"))
    db.add_or_update_context_msg("read", CONTEXT)
    figures = {
        "create_session": per_call_us(lambda i: db.create_session(f"new-{i}", title="A new chat")),
        "add message (insert)": per_call_us(lambda i: db.add_or_update_msg_to_conv(message("w", f"m{i}"))),
        "add message (update)": per_call_us(
            lambda i: db.add_or_update_msg_to_conv(message("w", "hot", str(i)))
        ),
        "save context (10 msgs)": per_call_us(lambda i: db.add_or_update_context_msg("w", CONTEXT)),
        "update_session (title)": per_call_us(lambda i: db.update_session("w", title=f"t{i}")),
        "get_session": per_call_us(lambda i: db.get_session("read")),
        "get_conversations (20)": per_call_us(lambda i: db.get_conversations("read")),
        "get_context_messages": per_call_us(lambda i: db.get_context_messages("read")),
        "get_sessions (100+)": per_call_us(lambda i: db.get_sessions()),
    }
    print(f"{name}: median per call, {ROUNDS} calls each, one thread")
    for label, us in figures.items():
        print(f"    {label:<26} {us:8.0f} us")

    barrier = threading.Barrier(THREADS)

    def writer(t: int) -> None:
        barrier.wait()
        for i in range(PER_THREAD):
            db.add_or_update_msg_to_conv(message(f"t{t}", "hot", str(i)))
            db.add_or_update_context_msg(f"t{t}", CONTEXT)

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(THREADS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    print(f"    {THREADS} threads saving message + context: {THREADS * PER_THREAD * 2 / wall:8.0f} writes/s")


def main() -> int:
    os.environ.setdefault("DIRECTOR_LOG_LEVEL", "warning")
    import director.db.sqlite as sqlite_module

    print(f"DB layer from {Path(sqlite_module.__file__).parent}")
    on_each_backend(bench, sys.argv[1:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
