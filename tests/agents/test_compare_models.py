"""compare_models through real LiteLLM against the fake OpenAI server on 127.0.0.1."""

from __future__ import annotations

import threading

from director.agents.compare_models import CompareModelsAgent

from tests.fakes.providers import FAKE_API_KEY, FakeOllama, FakeOpenAI, RecordedRequest, Reply, make_litellm


def test_runs_models_concurrently_and_keeps_failures_as_rows(fake_openai: FakeOpenAI) -> None:
    good = ["openai/fake-a", "openai/fake-b"]
    barrier = threading.Barrier(len(good), timeout=5)

    def respond(req: RecordedRequest) -> Reply:
        model = req.json["model"]
        if model == "fake-broken":
            return Reply(status=400, body={"error": {"message": "model fake-broken does not exist"}})
        try:
            barrier.wait()  # both good models must be in flight at the same time
        except threading.BrokenBarrierError:
            return Reply(text=f"{model} ran alone")
        return Reply(text=f"{model} says hello", prompt_tokens=7, completion_tokens=3)

    fake_openai.responder = respond
    models = [*good, "openai/fake-broken"]
    agent = CompareModelsAgent(llm=make_litellm(fake_openai, num_retries=0, fallback_models=models))
    response = agent.call({"prompt": "Say hello", "models": models})

    assert response.status == "success"
    rows = {row["model"]: row for row in response.data["rows"]}
    assert rows["openai/fake-a"]["answer"] == "fake-a says hello"
    assert rows["openai/fake-b"]["answer"] == "fake-b says hello"
    assert rows["openai/fake-a"]["tokens"] == 10 and rows["openai/fake-a"]["error"] is None
    assert rows["openai/fake-a"]["latency_ms"] > 0
    broken = rows["openai/fake-broken"]
    assert broken["answer"] is None and broken["error"] and broken["error_type"]
    assert "2 of 3 models answered" in response.message
    # Every request carried the prompt and the default's settings (same provider: same key).
    assert {r.json["messages"][-1]["content"] for r in fake_openai.requests} == {"Say hello"}
    assert all(r.headers.get("authorization") == f"Bearer {FAKE_API_KEY}" for r in fake_openai.requests)
    assert FAKE_API_KEY not in response.to_tool_result()


def test_all_failing_is_an_error_response(fake_openai: FakeOpenAI) -> None:
    fake_openai.responder = lambda req: Reply(status=401, body={"error": {"message": "bad key"}})
    agent = CompareModelsAgent(llm=make_litellm(fake_openai, num_retries=0, fallback_models=["openai/m1"]))
    response = agent.call({"prompt": "x", "models": ["openai/m1"]})
    assert response.status == "error"
    assert response.data["rows"][0]["error_type"] == "auth"


def test_without_a_configured_model_it_explains(fake_openai: FakeOpenAI) -> None:
    from director.llm import NotConfiguredLLM

    response = CompareModelsAgent(llm=NotConfiguredLLM()).call({"prompt": "x", "models": ["openai/m1"]})
    assert response.status == "error" and "No language model is configured" in response.message
    assert fake_openai.requests == []


def test_too_many_models(fake_openai: FakeOpenAI, monkeypatch) -> None:
    monkeypatch.setenv("DIRECTOR_COMPARE_MAX_MODELS", "2")
    agent = CompareModelsAgent(llm=make_litellm(fake_openai))
    response = agent.call({"prompt": "x", "models": ["openai/a", "openai/b", "openai/c"]})
    assert response.status == "error" and "At most 2" in response.message
    assert fake_openai.requests == []


def test_models_outside_the_configured_ones_are_refused_and_never_called(
    fake_openai: FakeOpenAI, fake_ollama: FakeOllama, monkeypatch
) -> None:
    # A prompt-injected page can name any model; ollama/ would POST to a local port. Point Ollama's
    # default base at a fake so a call that slipped through would be recorded, not lost.
    monkeypatch.setenv("OLLAMA_API_BASE", fake_ollama.url)
    llm = make_litellm(fake_openai, num_retries=0, fallback_models=["openai/fake-b"])
    agent = CompareModelsAgent(llm=llm)
    injected = ["openai/fake-model", "ollama/llama3", "ollama_chat/x", "llamafile/x", "openai/evil"]
    response = agent.call({"prompt": "leak", "models": injected})

    assert response.status == "error"
    assert response.data["refused"] == ["ollama/llama3", "ollama_chat/x", "llamafile/x", "openai/evil"]
    assert response.data["allowed"] == ["openai/fake-model", "openai/fake-b"]
    assert "Not allowed: ollama/llama3" in response.message and "openai/fake-b" in response.message
    assert fake_openai.all_requests == [] and fake_ollama.all_requests == []


def test_the_configured_model_and_its_fallbacks_can_be_compared(fake_openai: FakeOpenAI) -> None:
    fake_openai.responder = lambda req: Reply(text=f"I am {req.json['model']}")
    agent = CompareModelsAgent(
        llm=make_litellm(fake_openai, num_retries=0, fallback_models=["openai/fake-b"])
    )
    response = agent.call({"prompt": "hi", "models": ["openai/fake-model", "openai/fake-b"]})
    assert response.status == "success"
    assert sorted(r.json["model"] for r in fake_openai.requests) == ["fake-b", "fake-model"]
