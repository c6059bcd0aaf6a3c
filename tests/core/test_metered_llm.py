"""Every model call of a turn goes through the usage meter: the engine's and the agents' own calls are
recorded (one row each, with the agent's name) and checked against the budgets before they start.

The real TurnRunner, a real SQLite database and a ScriptedLLM whose calls cost fixed amounts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from director.agents.base import AgentResponse, AgentStatus, BaseAgent
from director.core.budget import Budget, BudgetSettings
from director.core.metered_llm import UsageMeter
from director.core.reasoning import EngineLimits
from director.core.session import ChatRequest, MsgStatus
from director.core.turn_runner import TurnRunner
from director.core.turns import LocalTurnRegistry
from director.db.sqlite import SQLiteDB
from director.llm.base import LLMResponse

from tests.fakes.scripted_llm import ScriptedLLM, tool_call

COST = 0.01


def priced(text: str = "", *calls: Any, model: str = "scripted") -> LLMResponse:
    return LLMResponse(
        content=text,
        tool_calls=list(calls),
        model=model,
        send_tokens=100,
        recv_tokens=10,
        cached_tokens=40,
        cost=COST,
        latency_ms=12.5,
        finish_reason="tool_calls" if calls else "stop",
    )


class Digest(BaseAgent):
    name = "digest"
    description = "Digest a text with the model."

    def run(self, text: str) -> AgentResponse:
        """Digest a text.

        Args:
            text: The text.
        """
        assert self.llm is not None
        response = self.llm.chat_completions([{"role": "user", "content": f"Digest: {text}"}])
        self.record_usage(response)
        if not response.ok:
            return AgentResponse(status=AgentStatus.ERROR, message=response.content)
        return AgentResponse(message=response.content)


@pytest.fixture
def db(tmp_path: Path):
    handle = SQLiteDB(str(tmp_path / "director.db"))
    yield handle
    handle.close()


Turn = Callable[..., Any]


@pytest.fixture
def turn(db: SQLiteDB) -> Callable[..., Turn]:
    def make(llm: ScriptedLLM, has_price: Callable[[str], bool] = lambda _m: True, **budget: Any) -> Turn:
        settings = BudgetSettings.model_construct(
            session_budget_usd=budget.get("session"),
            daily_budget_usd=budget.get("daily"),
            allow_unpriced_models=budget.get("allow_unpriced"),
        )
        meter = UsageMeter(db, Budget(settings, db.get_spend, has_price))
        runner = TurnRunner(
            db, llm, [Digest], EngineLimits(), LocalTurnRegistry(), spawn=lambda fn, *a: fn(*a), meter=meter
        )

        def run(session_id: str, text: str = "digest this") -> dict[str, Any]:
            runner.start(ChatRequest(session_id=session_id, text_parts=[text]), session_id, lambda *_: None)
            return db.get_conversations(session_id)[-1]

        return run

    return make


def test_every_call_of_a_turn_is_recorded_with_its_agent(db: SQLiteDB, turn) -> None:
    llm = ScriptedLLM(
        priced("", tool_call("digest", {"text": "a long page"})),
        priced("the digest"),  # the agent's own call
        priced("Here is the digest."),
    )
    output = turn(llm)("s1")

    assert output["status"] == MsgStatus.SUCCESS
    calls = output["calls"]
    assert [c["agent"] for c in calls] == [None, "digest", None]
    assert calls[1] == {
        "agent": "digest",
        "model": "scripted",
        "input_tokens": 100,
        "output_tokens": 10,
        "cached_tokens": 40,
        "cost_usd": COST,
        "latency_ms": 12.5,
        "outcome": "success",
        "created_at": calls[1]["created_at"],
    }
    assert db.get_usage_totals("s1") == {
        "input_tokens": 300,
        "output_tokens": 30,
        "cached_tokens": 120,
        "cost_usd": pytest.approx(3 * COST),
        "llm_calls": 3,
    }
    rows = db.usage_report(0, 2**40, "session")
    assert rows[0]["key"] == "s1" and rows[0]["llm_calls"] == 3


def test_a_session_budget_reached_mid_turn_refuses_the_next_call_and_keeps_the_partial_result(
    db: SQLiteDB, turn
) -> None:
    # 1.5 calls' worth: the first call and the agent's call start under it; the engine's next does not.
    llm = ScriptedLLM(priced("", tool_call("digest", {"text": "page"})), priced("the digest"))
    output = turn(llm, session=1.5 * COST)("s1")

    assert output["status"] == MsgStatus.ERROR
    answer = output["content"][-1]
    assert answer["data"] == {
        "error_type": "budget_exceeded",
        "budget": "session",
        "spent_usd": pytest.approx(2 * COST),
        "limit_usd": 1.5 * COST,
        "setting": "DIRECTOR_SESSION_BUDGET_USD",
    }
    assert "DIRECTOR_SESSION_BUDGET_USD" in answer["text"]
    # The agent's work was done and saved before the refusal.
    digest = next(block for block in output["content"] if block["agent_name"] == "digest")
    assert digest["status"] == "success" and digest["text"] == "the digest"
    assert llm.remaining == 0 and len(llm.calls) == 2  # the refused call never reached the model
    assert db.get_usage_totals("s1")["llm_calls"] == 2
    # The answer's own usage agrees with the database: the refusal was not a model call.
    assert output["usage"]["llm_calls"] == 2 and len(output["calls"]) == 2

    # The next turn of that chat is refused at once; nothing is sent.
    llm.queue(priced("never sent"))
    assert turn(llm, session=1.5 * COST)("s1")["content"][-1]["data"]["budget"] == "session"
    assert llm.remaining == 1


def test_an_agents_own_call_is_checked_too(db: SQLiteDB, turn) -> None:
    llm = ScriptedLLM(priced("", tool_call("digest", {"text": "page"})))
    output = turn(llm, session=0.5 * COST)("s1")
    digest = next(block for block in output["content"] if block["agent_name"] == "digest")
    assert digest["status"] == "error" and "DIRECTOR_SESSION_BUDGET_USD" in digest["text"]
    assert output["content"][-1]["data"]["error_type"] == "budget_exceeded"
    assert len(llm.calls) == 1


def test_the_daily_budget_spans_sessions(db: SQLiteDB, turn) -> None:
    llm = ScriptedLLM(priced("first chat's answer"), priced("never sent"))
    run = turn(llm, daily=COST)
    assert run("s1")["status"] == MsgStatus.SUCCESS
    refused = run("s2")
    assert refused["content"][-1]["data"] == {
        "error_type": "budget_exceeded",
        "budget": "daily",
        "spent_usd": pytest.approx(COST),
        "limit_usd": COST,
        "setting": "DIRECTOR_DAILY_BUDGET_USD",
    }
    assert llm.remaining == 1


def test_unpriced_models_are_refused_under_a_budget_unless_allowed(db: SQLiteDB, turn) -> None:
    llm = ScriptedLLM(priced("allowed"))
    unpriced = turn(llm, has_price=lambda _m: False, daily=1.0)("s1")["content"][-1]
    assert unpriced["data"] == {
        "error_type": "unpriced_model",
        "models": ["scripted"],
        "setting": "DIRECTOR_ALLOW_UNPRICED_MODELS",
    }
    assert "DIRECTOR_ALLOW_UNPRICED_MODELS=true" in unpriced["text"]
    assert llm.remaining == 1

    allowed = turn(llm, has_price=lambda _m: False, daily=1.0, allow_unpriced=True)("s2")
    assert allowed["status"] == MsgStatus.SUCCESS
    # With no budget at all, unpriced models are allowed by default.
    llm.queue(priced("no budget"))
    assert turn(llm, has_price=lambda _m: False)("s3")["status"] == MsgStatus.SUCCESS
