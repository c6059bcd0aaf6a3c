"""A running answer is re-saved while nothing else saves it, so other processes see it is alive."""

from __future__ import annotations

import threading
import time

from director.core.heartbeat import STALE_AFTER_S, Heartbeat, recently_saved
from director.core.session import Session, TextContent

from tests.core.memory_db import MemoryDB


def output_writes(db: MemoryDB) -> list[dict]:
    return [w for kind, w in db.writes if kind == "message" and w["msg_type"] == "output"]


def test_a_quiet_running_answer_is_re_saved_and_a_final_one_is_left_alone(
    session: Session, db: MemoryDB
) -> None:
    out = session.new_output_message()
    out.add_block(TextContent(agent_name="assistant", text="thinking"))
    out.push_update()
    heartbeat = Heartbeat(out, interval_s=0.2).start()
    try:
        deadline = time.monotonic() + 5
        while len(output_writes(db)) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        writes = output_writes(db)
        assert len(writes) >= 3, "an answer nothing else saves is saved on every beat"
        assert writes[-1]["updated_at"] > writes[0]["updated_at"]
        out.push_update(final=True)
        settled = len(output_writes(db))
        time.sleep(0.5)
        assert len(output_writes(db)) == settled, "nothing after the final state"
    finally:
        heartbeat.stop()


def test_recently_saved_tells_a_live_answer_from_one_a_crash_left() -> None:
    now = 1_000_000.0
    assert recently_saved({"updated_at": now - 1}, now)
    assert not recently_saved({"updated_at": now - STALE_AFTER_S - 1}, now)
    assert not recently_saved({}, now)


def test_running_answers_start_no_thread_each(session: Session, db: MemoryDB) -> None:
    """A thread per turn cost more than its beats: a hundred running answers share the timer thread."""
    outputs = [session.new_output_message() for _ in range(100)]
    for out in outputs:
        out.push_update()
    threads_before = threading.active_count()
    heartbeats = [Heartbeat(out, interval_s=0.2).start() for out in outputs]
    try:
        assert threading.active_count() <= threads_before + 1  # the timer thread, if not running yet
        before = len(output_writes(db))
        deadline = time.monotonic() + 5
        while len(output_writes(db)) < before + 100 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(output_writes(db)) >= before + 100, "every quiet answer got its beat"
    finally:
        for heartbeat in heartbeats:
            heartbeat.stop()
    settled = len(output_writes(db))
    time.sleep(0.5)
    assert len(output_writes(db)) == settled, "stopped answers get no more beats"
