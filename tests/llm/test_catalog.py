"""The model catalog (``GET /model``'s data): LiteLLM's offline map joined with the policy and the
credentials, built once."""

from __future__ import annotations

import json

from director.llm.catalog import CatalogModel, ModelCatalog, litellm_model_map
from director.llm.config import LiteLLMConfig
from director.llm.for_session import SessionLLMs
from director.llm.litellm import LiteLLM
from director.llm.model_policy import ModelPolicy


def _catalog(
    monkeypatch, curated: list[str], allow_any: bool = False, source=litellm_model_map
) -> ModelCatalog:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-cat")
    monkeypatch.delenv("GROQ_API_KEY", raising=False)
    llm = LiteLLM(LiteLLMConfig(_env_file=None, chat_model="openai/gpt-4o", api_key="sk-home"))
    return ModelCatalog(SessionLLMs(llm, ModelPolicy(llm.models, curated, allow_any)), [source])


def test_entries_carry_what_the_picker_shows(monkeypatch) -> None:
    catalog = _catalog(monkeypatch, ["anthropic/claude-sonnet-4-5", "groq/llama-3.3-70b-versatile"])
    entries = json.loads(catalog.query())
    assert len(entries) > 1000  # the whole offline map, chat models only
    first = entries[:3]
    # Curated first, in the configured order: the default, then LITELLM_MODELS.
    assert [e["id"] for e in first] == [
        "openai/gpt-4o",
        "anthropic/claude-sonnet-4-5",
        "groq/llama-3.3-70b-versatile",
    ]
    gpt = first[0]
    assert gpt["provider"] == "openai" and gpt["max_input_tokens"] >= 128000
    assert gpt["input_cost_per_mtok"] == 2.5 and gpt["output_cost_per_mtok"] == 10.0
    assert gpt["supports_tools"] and gpt["supports_vision"] and gpt["allowed"] and gpt["curated"]
    assert gpt["credentials"] == "ok" and gpt["missing_env"] == []  # LITELLM_API_KEY is its key
    assert first[1]["credentials"] == "ok"  # ANTHROPIC_API_KEY set
    assert first[2]["credentials"] == "missing" and first[2]["missing_env"] == ["GROQ_API_KEY"]
    others = entries[3:]
    assert not any(e["allowed"] for e in others)
    assert all(e["id"] not in {"openai/gpt-4o"} for e in others)  # listed once
    assert others == sorted(others, key=lambda e: (e["provider"], e["id"]))
    assert not any("embedding" in e["id"] for e in entries)  # mode chat only
    # Device-login providers: resolving one would start an OAuth flow from the server.
    assert not any(e["provider"] in ("github_copilot", "chatgpt") for e in entries)
    ollama = next(e for e in entries if e["provider"] == "ollama")
    assert ollama["credentials"] == "not_needed"


def test_query_and_allowed_filter(monkeypatch) -> None:
    catalog = _catalog(monkeypatch, ["anthropic/claude-sonnet-4-5"])
    found = json.loads(catalog.query("CLAUDE sonnet"))
    assert found and all("claude" in e["id"] and "sonnet" in e["id"] for e in found)
    assert found[0]["id"] == "anthropic/claude-sonnet-4-5"
    allowed = json.loads(catalog.query(allowed_only=True))
    assert [e["id"] for e in allowed] == ["openai/gpt-4o", "anthropic/claude-sonnet-4-5"]
    assert json.loads(catalog.query("no-such-model-xyz")) == []


def test_allow_any_model_allows_the_catalog(monkeypatch) -> None:
    catalog = _catalog(monkeypatch, [], allow_any=True)
    assert all(e["allowed"] for e in json.loads(catalog.query("gpt")))


def test_built_once_from_a_pluggable_source(monkeypatch) -> None:
    calls: list[int] = []

    def proxy_models():
        calls.append(1)
        yield CatalogModel(id="litellm_proxy/team-model", provider="litellm_proxy", supports_tools=True)

    catalog = _catalog(monkeypatch, ["litellm_proxy/team-model"], source=proxy_models)
    for _ in range(3):
        entries = json.loads(catalog.query())
    assert calls == [1]
    assert (
        entries[0]["id"] == "openai/gpt-4o" and entries[0]["max_input_tokens"] is None
    )  # not in this source
    assert entries[1]["id"] == "litellm_proxy/team-model" and entries[1]["supports_tools"] is True


def test_a_proxy_default_lists_the_proxys_own_models_first(monkeypatch) -> None:
    from director.llm import proxy
    from director.llm.catalog import sources_for

    from tests.fakes.providers import FAKE_API_KEY
    from tests.fakes.wire.litellm_proxy import FakeLiteLLMProxy, alias

    proxy.CATALOG.clear()
    with FakeLiteLLMProxy(aliases=[alias("gpt-4o", "openai/gpt-4o", 1e-6, 2e-6)]) as fake:
        llm = LiteLLM(
            LiteLLMConfig(
                _env_file=None, chat_model="litellm_proxy/gpt-4o", api_base=fake.url, api_key=FAKE_API_KEY
            )
        )
        llms = SessionLLMs(llm, ModelPolicy(llm.models, [], False))
        assert len(sources_for(llms)) == 2
        entries = json.loads(ModelCatalog(llms).query("gpt-4o"))
    first = entries[0]
    # The proxy's price for its alias (1 and 2 per 1M), never the public gpt-4o's (2.5 and 10).
    assert first["id"] == "litellm_proxy/gpt-4o" and first["curated"] and first["allowed"]
    assert (first["input_cost_per_mtok"], first["output_cost_per_mtok"]) == (1.0, 2.0)
    assert any(e["id"] == "openai/gpt-4o" for e in entries)  # the offline map is still there
    proxy.CATALOG.clear()
