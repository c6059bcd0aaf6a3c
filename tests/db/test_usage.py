"""Usage rows and totals (issue 12) on SQLite and a real PostgreSQL: totals and reports are summed by
the database, spend survives a deleted chat, and a database made by the previous schema version
upgrades with its data intact."""

from __future__ import annotations

from typing import Any

import pytest
from director.db.base import BaseDB
from director.db.migrate import known_revisions
from director.db.usage_statements import utc_day

from tests.db.fixtures.before_migrations import write_old_database
from tests.db.test_migrations import old_data, open_db, stamp_0001, version_of

DAY = 86400.0
T0 = 1_764_460_800.0  # 2025-11-30 00:00:00 UTC


def call(session_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "session_id": session_id,
        "msg_id": "m1",
        "agent": None,
        "model": "openai/gpt-4o-mini",
        "input_tokens": 100,
        "output_tokens": 20,
        "cached_tokens": 0,
        "cost_usd": 0.001,
        "latency_ms": 321.5,
        "outcome": "success",
        "created_at": T0 + 3600,
        **extra,
    }


def test_totals_are_summed_per_session_and_per_utc_day(db: BaseDB) -> None:
    db.create_session("a")
    db.create_session("b")
    db.record_llm_call(call("a"))
    db.record_llm_call(call("a", agent="summarize", cached_tokens=60, cost_usd=0.0005, model="openai/gpt-4o"))
    db.record_llm_call(call("a", cost_usd=None, outcome="rate_limit", input_tokens=0, output_tokens=0))
    db.record_llm_call(call("b", created_at=T0 + DAY + 5))  # the next UTC day

    assert db.get_usage_totals("a") == {
        "input_tokens": 200,
        "output_tokens": 40,
        "cached_tokens": 60,
        "cost_usd": pytest.approx(0.0015),
        "llm_calls": 3,
    }
    assert db.get_usage_totals("never") == {
        "input_tokens": 0,
        "output_tokens": 0,
        "cached_tokens": 0,
        "cost_usd": 0.0,
        "llm_calls": 0,
    }
    every = db.get_all_session_totals()
    assert set(every) == {"a", "b"} and every["b"]["llm_calls"] == 1
    # A page of the chat list reads only its own chats' totals.
    assert db.get_session_totals(["b", "never", "b"]) == {"b": every["b"]}
    assert db.get_session_totals([]) == {}
    session_spent, day_spent = db.get_spend("a", utc_day(T0))
    assert (session_spent, day_spent) == (pytest.approx(0.0015), pytest.approx(0.0015))
    assert db.get_spend("b", utc_day(T0 + DAY)) == (pytest.approx(0.001), pytest.approx(0.001))


def test_totals_of_more_chats_than_one_query_holds(db: BaseDB) -> None:
    from director.db.usage_statements import TOTALS_SLOTS

    ids = [f"s{i:04d}" for i in range(TOTALS_SLOTS * 2 + 7)]
    for sid in ids:
        db.create_session(sid)
    for sid in ids[::3]:  # every third chat has made a model call
        db.record_llm_call(call(sid))
    asked = ids[1:]  # not the first: it must be left out
    totals = db.get_session_totals(asked)
    assert set(totals) == {sid for sid in ids[::3] if sid in asked}
    assert all(t["llm_calls"] == 1 and t["input_tokens"] == 100 for t in totals.values())


def test_spend_outlives_a_deleted_chat(db: BaseDB) -> None:
    db.create_session("gone")
    db.record_llm_call(call("gone"))
    assert db.delete_session("gone") is True
    # The money was spent: today's total (and the daily budget) still count it.
    assert db.get_spend("other", utc_day(T0))[1] == pytest.approx(0.001)
    rows = db.usage_report(T0, T0 + DAY, "session")
    assert [(r["key"], r["title"]) for r in rows] == [("gone", None)]


def test_usage_report_groups_by_day_model_and_session(db: BaseDB) -> None:
    db.create_session("cheap", title="Cheap chat")
    db.create_session("dear", title="Dear chat")
    db.record_llm_call(call("cheap", created_at=T0 + 10))
    db.record_llm_call(call("dear", created_at=T0 + DAY + 10, cost_usd=0.01, model="openai/gpt-4o"))
    db.record_llm_call(call("dear", created_at=T0 + 2 * DAY + 10, cost_usd=None, model="ollama/llama3"))
    db.record_llm_call(call("dear", created_at=T0 + 9 * DAY))  # outside the range below

    since, until = T0, T0 + 3 * DAY
    days = db.usage_report(since, until, "day")
    assert [(r["key"], r["llm_calls"], r["cost_usd"]) for r in days] == [
        (utc_day(T0), 1, pytest.approx(0.001)),
        (utc_day(T0 + DAY), 1, pytest.approx(0.01)),
        (utc_day(T0 + 2 * DAY), 1, 0.0),
    ]
    assert days[2]["unpriced_calls"] == 1 and days[0]["unpriced_calls"] == 0
    models = db.usage_report(since, until, "model")
    assert [r["key"] for r in models] == ["openai/gpt-4o", "openai/gpt-4o-mini", "ollama/llama3"]
    sessions = db.usage_report(since, until, "session", limit=1)
    assert [(r["key"], r["title"], r["llm_calls"]) for r in sessions] == [("dear", "Dear chat", 2)]
    assert db.usage_report(until, until + 1, "day") == []


def test_bad_usage_is_refused_before_anything_is_written(db: BaseDB) -> None:
    db.create_session("a")
    for bad in ({"input_tokens": -1}, {"cost_usd": float("nan")}, {"output_tokens": "5"}, {"session_id": ""}):
        with pytest.raises(ValueError):
            db.record_llm_call({**call("a"), **bad})
    assert db.get_usage_totals("a")["llm_calls"] == 0
    assert db.usage_report(0, T0 + 10 * DAY, "day") == []


def test_a_database_of_the_previous_version_gains_usage_and_keeps_its_data(
    backend: str, storage: str
) -> None:
    data = old_data()
    write_old_database(backend, storage, data)
    stamp_0001(backend, storage)
    db = open_db(backend, storage)
    try:
        assert version_of(backend, storage) == known_revisions()[-1]  # upgraded to the newest
        assert [s["session_id"] for s in db.get_sessions()] == ["s1", "s2"]
        for session_id, messages in data["conversations"].items():
            assert db.get_conversations(session_id) == messages
            assert db.get_context_messages(session_id) == data["context"][session_id]
        # Old chats start with no recorded calls (their per-answer usage is still in the messages).
        assert db.get_usage_totals("s1")["llm_calls"] == 0
        db.record_llm_call(call("s1"))
        assert db.get_usage_totals("s1")["cost_usd"] == pytest.approx(0.001)
    finally:
        db.close()


def test_a_range_with_partial_days_counts_exactly_the_calls_inside_it(db: BaseDB) -> None:
    """Whole days come from the maintained totals, the partial days at the ends from the calls themselves."""
    db.create_session("a", title="A")
    times = [T0 + 10, T0 + 7200, T0 + DAY + 5, T0 + 2 * DAY + 3600, T0 + 2 * DAY + 7200, T0 + 3 * DAY + 1]
    for i, created in enumerate(times):
        db.record_llm_call(call("a", created_at=created, cost_usd=0.001 * (i + 1), model=f"m{i % 2}"))
    since, until = T0 + 3600, T0 + 2 * DAY + 5000  # cuts off times[0] and times[4:], keeps 1..3
    days = db.usage_report(since, until, "day")
    assert [(r["key"], r["llm_calls"]) for r in days] == [
        (utc_day(T0), 1),
        (utc_day(T0 + DAY), 1),
        (utc_day(T0 + 2 * DAY), 1),
    ]
    models = {r["key"]: r for r in db.usage_report(since, until, "model")}
    assert {k: r["llm_calls"] for k, r in models.items()} == {"m1": 2, "m0": 1}
    assert models["m1"]["cost_usd"] == pytest.approx(0.002 + 0.004)
    sessions = db.usage_report(since, until, "session")
    assert [(r["key"], r["title"], r["llm_calls"]) for r in sessions] == [("a", "A", 3)]
    assert sessions[0]["cost_usd"] == pytest.approx(0.002 + 0.003 + 0.004)
    # A range of whole days only, and one inside a single day.
    assert sum(r["llm_calls"] for r in db.usage_report(T0, T0 + 3 * DAY, "day")) == 5
    assert [r["llm_calls"] for r in db.usage_report(T0 + 5, T0 + 3600, "model")] == [1]
