"""GET /usage and GET /usage/budget: bad input is a clear 400, the token guards them, figures come from the DB."""

from __future__ import annotations

import time

import pytest

TOKEN = "usage-route-token-123"


def test_bad_usage_queries_are_400_with_a_clear_message(server) -> None:
    http = server.app.test_client()
    for query, code in (
        ("group_by=week", "invalid_group_by"),
        ("since=yesterday", "invalid_range"),
        ("since=-5", "invalid_range"),
        ("since=200&until=100", "invalid_range"),
        ("limit=0", "invalid_range"),
        ("limit=many", "invalid_range"),
    ):
        response = http.get(f"/usage?{query}")
        assert response.status_code == 400, query
        assert response.json["code"] == code and response.json["message"]


def test_usage_sums_the_stored_calls_and_the_budget_reports_today(server) -> None:
    now = time.time()
    server.db.create_session("s1", title="Chat one")
    for cost in (0.25, 0.5, None):
        server.db.record_llm_call(
            {
                "session_id": "s1",
                "model": "openai/gpt-4o-mini",
                "input_tokens": 100,
                "output_tokens": 10,
                "cost_usd": cost,
                "created_at": now - 60,
            }
        )
    http = server.app.test_client()
    by_model = http.get("/usage?group_by=model").json
    assert by_model["rows"] == [
        {
            "key": "openai/gpt-4o-mini",
            "input_tokens": 300,
            "output_tokens": 30,
            "cached_tokens": 0,
            "cost_usd": pytest.approx(0.75),
            "llm_calls": 3,
            "unpriced_calls": 1,
        }
    ]
    assert by_model["totals"]["llm_calls"] == 3
    assert http.get("/usage?group_by=session").json["rows"][0]["title"] == "Chat one"
    assert http.get(f"/usage?until={now - 3600}").json["rows"] == []
    budget = http.get("/usage/budget").json
    assert budget["today_spent_usd"] == pytest.approx(0.75)
    assert budget["session_budget_usd"] is None and budget["allow_unpriced_models"] is True
    assert http.get("/session").json[0]["totals"]["llm_calls"] == 3
    # The paged list (the sidebar's) carries each chat's totals too, zeros for a chat without calls.
    server.db.create_session("s2", title="Chat two")
    first = http.get("/session?limit=1").json
    second = http.get(f"/session?limit=1&cursor={first['next_cursor']}").json
    by_id = {s["session_id"]: s["totals"] for page in (first, second) for s in page["sessions"]}
    assert by_id["s1"]["llm_calls"] == 3 and by_id["s1"]["cost_usd"] == pytest.approx(0.75)
    assert by_id["s2"] == {
        "input_tokens": 0,
        "output_tokens": 0,
        "cached_tokens": 0,
        "cost_usd": 0.0,
        "llm_calls": 0,
    }


def test_usage_needs_the_token(make_server) -> None:
    server = make_server(auth_token=TOKEN)
    http = server.app.test_client()
    assert http.get("/usage").status_code == 401
    assert http.get("/usage/budget").status_code == 401
    assert http.get("/usage", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
