"""Cost under control, end to end: real server processes, real LiteLLM over real HTTP to the fake
OpenAI server, a real Socket.IO client. Totals, per-call figures, /usage, budgets (per chat, per UTC
day across two server processes sharing one PostgreSQL) and unpriced models."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import requests
from psycopg.conninfo import conninfo_to_dict

from tests.fakes.postgres import PostgresServer, create_database
from tests.fakes.providers import DEFAULT_COMPLETION_TOKENS, DEFAULT_PROMPT_TOKENS, FakeOpenAI, Reply
from tests.fakes.server_process import ServerProcess, start_server
from tests.integration.conftest import API_KEY, provider_env
from tests.integration.live_client import LiveClient

pytestmark = pytest.mark.integration

PRICED = "openai/gpt-4o-mini"  # LiteLLM's bundled price: $0.15 / $0.60 per million tokens
CALL_COST = DEFAULT_PROMPT_TOKENS * 0.15e-6 + DEFAULT_COMPLETION_TOKENS * 0.60e-6
WAIT = 30.0


def summarize_then_answer(fake: FakeOpenAI, answer: str) -> None:
    """A turn of three model calls: the engine asks for summarize, summarize calls the model, the engine answers."""
    fake.script(
        Reply(tool_calls=[("summarize", {"text": "A long text about budgets.", "length": "short"})]),
        Reply(text="Budgets stop runaway spending."),
        Reply(text=answer),
    )


def start(fake: FakeOpenAI, servers: list[ServerProcess], **env: str) -> ServerProcess:
    server = start_server(provider_env(fake, LITELLM_CHAT_MODEL=PRICED, **env))
    servers.append(server)
    server.wait_until_warm()
    return server


@pytest.fixture
def clients() -> Iterator[list[LiveClient]]:
    made: list[LiveClient] = []
    yield made
    for client in made:
        client.disconnect()


def connect(server: ServerProcess, clients: list[LiveClient]) -> LiveClient:
    client = LiveClient(server.url)
    clients.append(client)
    return client


def test_chat_totals_count_every_call_of_every_turn_agents_included(
    fake: FakeOpenAI, servers: list[ServerProcess], clients: list[LiveClient]
) -> None:
    server = start(fake, servers, DIRECTOR_LOG_FORMAT="json")
    client = connect(server, clients)
    summarize_then_answer(fake, "First answer.")
    first = client.ask("Summarise this for me", timeout=WAIT)
    session_id = first["session_id"]
    summarize_then_answer(fake, "Second answer.")
    second = client.ask("And again", timeout=WAIT, session_id=session_id)
    assert first["status"] == second["status"] == "success"

    # Each call in the answer carries its agent, model, tokens, cost and latency.
    calls = first["calls"]
    assert [c["agent"] for c in calls] == [None, "summarize", None]
    for c in calls:
        assert c["model"] == PRICED and c["outcome"] == "success"
        assert (c["input_tokens"], c["output_tokens"]) == (DEFAULT_PROMPT_TOKENS, DEFAULT_COMPLETION_TOKENS)
        assert c["cost_usd"] == pytest.approx(CALL_COST) and c["latency_ms"] > 0

    totals = requests.get(f"{server.url}/session/{session_id}", timeout=10).json()["totals"]
    assert totals == {
        "input_tokens": 6 * DEFAULT_PROMPT_TOKENS,
        "output_tokens": 6 * DEFAULT_COMPLETION_TOKENS,
        "cached_tokens": 0,
        "cost_usd": pytest.approx(6 * CALL_COST),
        "llm_calls": 6,
    }
    listed = requests.get(f"{server.url}/session", timeout=10).json()
    assert next(s for s in listed if s["session_id"] == session_id)["totals"] == totals

    by_model = requests.get(f"{server.url}/usage", params={"group_by": "model"}, timeout=10).json()
    assert [(r["key"], r["llm_calls"]) for r in by_model["rows"]] == [(PRICED, 6)]
    by_session = requests.get(f"{server.url}/usage", params={"group_by": "session"}, timeout=10).json()
    assert by_session["rows"][0]["key"] == session_id and by_session["rows"][0]["title"]
    assert requests.get(f"{server.url}/usage", params={"group_by": "week"}, timeout=10).status_code == 400

    # One JSON log line per model call, figures as fields, no key in any line.
    lines = [json.loads(line) for line in server.logs().splitlines() if line.startswith("{")]
    logged = [line for line in lines if line.get("logger") == "director.llm.calls"]
    assert len(logged) == 6 and {line["session_id"] for line in logged} == {session_id}
    assert {line["agent"] for line in logged} == {None, "summarize"}
    assert all(line["cost_usd"] == pytest.approx(CALL_COST) for line in logged)
    assert API_KEY not in server.logs()


def test_a_session_budget_reached_mid_turn_ends_it_and_keeps_the_partial_result(
    fake: FakeOpenAI, servers: list[ServerProcess], clients: list[LiveClient]
) -> None:
    # Under two calls' worth: the engine's first call and summarize's call start under it, the third does not.
    server = start(fake, servers, DIRECTOR_SESSION_BUDGET_USD=str(1.5 * CALL_COST))
    client = connect(server, clients)
    summarize_then_answer(fake, "never sent")
    output = client.ask("Summarise this", timeout=WAIT)

    assert output["status"] == "error"
    answer = output["content"][-1]
    assert answer["data"]["error_type"] == "budget_exceeded"
    assert answer["data"]["budget"] == "session"
    assert answer["data"]["setting"] == "DIRECTOR_SESSION_BUDGET_USD"
    assert answer["data"]["spent_usd"] == pytest.approx(2 * CALL_COST)
    assert len(fake.requests) == 2  # the refused call never reached the provider
    stored = requests.get(f"{server.url}/session/{output['session_id']}", timeout=10).json()
    saved = stored["conversation"][-1]
    summary = next(block for block in saved["content"] if block["agent_name"] == "summarize")
    assert summary["status"] == "success" and "Budgets stop" in summary["text"]
    assert saved["content"][-1]["data"]["error_type"] == "budget_exceeded"
    assert stored["totals"]["llm_calls"] == 2


def test_an_unpriced_model_is_refused_under_a_budget_naming_the_setting(
    fake: FakeOpenAI, servers: list[ServerProcess], clients: list[LiveClient]
) -> None:
    server = start_server(provider_env(fake, DIRECTOR_DAILY_BUDGET_USD="5"))  # openai/fake-model: no price
    servers.append(server)
    client = connect(server, clients)
    output = client.ask("Hello", timeout=WAIT)
    answer = output["content"][-1]
    assert output["status"] == "error" and answer["data"]["error_type"] == "unpriced_model"
    assert "DIRECTOR_ALLOW_UNPRICED_MODELS=true" in answer["text"]
    assert fake.requests == []
    assert requests.get(f"{server.url}/usage/budget", timeout=10).json()["allow_unpriced_models"] is False


@pytest.mark.postgres
def test_the_daily_budget_holds_across_two_sessions_on_two_server_processes(
    fake: FakeOpenAI,
    servers: list[ServerProcess],
    clients: list[LiveClient],
    postgres_server: PostgresServer,
) -> None:
    params = conninfo_to_dict(create_database(postgres_server))
    env = {
        "DB_TYPE": "postgres",
        "POSTGRES_HOST": str(params.get("host", "127.0.0.1")),
        "POSTGRES_PORT": str(params.get("port", 5432)),
        "POSTGRES_USER": str(params.get("user", "postgres")),
        "POSTGRES_DB": str(params["dbname"]),
        "DIRECTOR_DAILY_BUDGET_USD": str(CALL_COST / 2),
    }
    first, second = start(fake, servers, **env), start(fake, servers, **env)
    fake.script(Reply(text="Spent on the first server."))
    spent = connect(first, clients).ask("Hello", timeout=WAIT)
    assert spent["status"] == "success"

    refused = connect(second, clients).ask("Hello from another chat", timeout=WAIT)
    assert refused["session_id"] != spent["session_id"]
    data = refused["content"][-1]["data"]
    assert (data["error_type"], data["budget"], data["setting"]) == (
        "budget_exceeded",
        "daily",
        "DIRECTOR_DAILY_BUDGET_USD",
    )
    assert data["spent_usd"] == pytest.approx(CALL_COST)
    assert len(fake.requests) == 1
    budget = requests.get(f"{second.url}/usage/budget", timeout=10).json()
    assert budget["today_spent_usd"] == pytest.approx(CALL_COST)
