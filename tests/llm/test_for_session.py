"""The per-chat LLM factory (``llm/for_session.py``), the model policy and the per-provider credentials."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from director.errors import BadPayloadError, InvalidModelError
from director.llm import NotConfiguredLLM, get_default_llm
from director.llm.base import LLMErrorType
from director.llm.config import LiteLLMConfig
from director.llm.for_session import SessionLLMs, parse_settings
from director.llm.litellm import LiteLLM, ensure_litellm
from director.llm.model_policy import ModelPolicy, ModelPolicySettings

HI = [{"role": "user", "content": "hi"}]


def _llm(**values: Any) -> LiteLLM:
    base = {
        "chat_model": "openai/gpt-4o",
        "api_key": "sk-home-1234",
        "api_base": "http://home.example",
        "extra_params": {"seed": 7},
        "fallback_models": ["openai/gpt-4o-mini"],
        "timeout": 33,
        "extra_headers": {"X-Team": "ai"},
    }
    return LiteLLM(LiteLLMConfig(_env_file=None, **{**base, **values}))


def _factory(llm: LiteLLM, curated: list[str], allow_any: bool = False) -> SessionLLMs:
    return SessionLLMs(llm, ModelPolicy(llm.models, curated, allow_any))


def test_the_default_is_the_configured_llm_itself() -> None:
    llm = _llm()
    assert _factory(llm, []).build() is llm


def test_a_chat_model_keeps_every_knob_but_only_its_providers_credentials(monkeypatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-own-5678")
    llms = _factory(_llm(), ["anthropic/claude-x"])
    chat = llms.build("anthropic/claude-x", None)
    assert isinstance(chat, LiteLLM) and chat.models == ["anthropic/claude-x", "openai/gpt-4o-mini"]
    own = chat._request_kwargs("anthropic/claude-x", stream=False)
    assert own["api_key"] == "sk-ant-own-5678" and "api_base" not in own and "seed" not in own
    assert own["timeout"] == 33 and own["extra_headers"] == {"X-Team": "ai"}
    # The fallback is on the default's provider: LITELLM_API_KEY / API_BASE / EXTRA_PARAMS apply.
    home = chat._request_kwargs("openai/gpt-4o-mini", stream=False)
    assert home["api_key"] == "sk-home-1234" and home["api_base"] == "http://home.example"
    assert home["seed"] == 7


def test_another_providers_key_and_base_are_read_from_dotenv(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("OLLAMA_API_BASE", raising=False)
    env_file = tmp_path / ".env"
    env_file.write_text("OLLAMA_API_BASE=http://127.0.0.1:9/\nMISTRAL_API_KEY=mk-dotenv-42\n")
    config = LiteLLMConfig(_env_file=env_file, chat_model="openai/gpt-4o", api_key="sk-x")
    llm = LiteLLM(config)
    assert (
        llm.with_settings("ollama_chat/llama3", None)._request_kwargs("ollama_chat/llama3", False)["api_base"]
        == "http://127.0.0.1:9/"
    )
    assert (
        llm.with_settings("mistral/small", None).config.credentials_for("mistral/small")[0] == "mk-dotenv-42"
    )


def test_built_llms_are_kept_so_a_turn_costs_a_lookup() -> None:
    llms = _factory(_llm(), ["anthropic/claude-x"])
    first = llms.build("anthropic/claude-x", "high")
    assert llms.build("anthropic/claude-x", "high") is first
    assert llms.build("anthropic/claude-x", None) is not first


@pytest.mark.parametrize(
    ("effort", "sent"), [("high", "high"), ("minimal", "minimal"), ("off", None), (None, "low")]
)
def test_reasoning_effort_per_chat(effort: str | None, sent: str | None) -> None:
    llm = _llm(reasoning_effort="low").with_settings(None, effort)
    assert llm._request_kwargs("openai/gpt-4o", stream=False).get("reasoning_effort") == sent


def test_policy_refuses_a_model_naming_the_setting_that_allows_it() -> None:
    llms = _factory(_llm(), ["anthropic/claude-x"])
    with pytest.raises(InvalidModelError) as info:
        llms.check({"model": "groq/llama-3"})
    assert info.value.code == "invalid_model" and info.value.setting == "LITELLM_MODELS"
    assert "LITELLM_ALLOW_ANY_MODEL=true" in info.value.message and "anthropic/claude-x" in info.value.message
    llms.check({"model": "openai/gpt-4o-mini"})  # fallbacks are allowed
    with pytest.raises(InvalidModelError):
        llms.build("groq/llama-3", None)  # a stored choice the policy no longer allows


def test_allow_any_model_takes_routable_strings_only() -> None:
    llms = _factory(_llm(), [], allow_any=True)
    llms.check({"model": "ollama_chat/brand-new-model"})  # a known provider prefix
    llms.check({"model": "gpt-4o-mini"})  # a catalog model
    with pytest.raises(InvalidModelError) as info:
        llms.check({"model": "no-such-provider/x"})
    assert info.value.setting == "LITELLM_ALLOW_ANY_MODEL"
    with pytest.raises(InvalidModelError):
        llms.check({"model": "github_copilot/gpt-4o"})  # a device login the server cannot do


def test_policy_settings_are_read_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("LITELLM_MODELS", " anthropic/a , groq/b ,")
    monkeypatch.setenv("LITELLM_ALLOW_ANY_MODEL", "true")
    settings = ModelPolicySettings(_env_file=None)
    assert settings.models == ["anthropic/a", "groq/b"] and settings.allow_any_model
    policy = ModelPolicy.from_settings(["openai/x", "openai/y"], settings)
    assert policy.allowed == ["openai/x", "anthropic/a", "groq/b", "openai/y"]


def test_parse_settings() -> None:
    assert parse_settings({"model": " openai/x ", "reasoning_effort": "HIGH"}, null_resets=False) == {
        "model": "openai/x",
        "reasoning_effort": "high",
    }
    assert parse_settings({"model": None, "content": "x"}, null_resets=False) == {}
    assert parse_settings({"model": None, "reasoning_effort": ""}, null_resets=True) == {
        "model": None,
        "reasoning_effort": None,
    }
    for bad in ({"model": 3}, {"model": "x" * 201}, {"model": "a\nb"}, {"reasoning_effort": "max"}):
        with pytest.raises(BadPayloadError):
            parse_settings(bad, null_resets=True)


def test_not_configured_ignores_the_chats_choice() -> None:
    llm = NotConfiguredLLM()
    llms = SessionLLMs(llm, ModelPolicy([], [], False))
    llms.check({"model": "openai/x"})
    assert llms.build("openai/x", "high") is llm


def test_a_missing_key_is_an_auth_error_before_any_call(monkeypatch, caplog) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    calls: list[dict] = []
    monkeypatch.setattr(ensure_litellm(), "completion", lambda **kw: calls.append(kw))
    llm = LiteLLM(LiteLLMConfig(_env_file=None, chat_model="openai/gpt-4o"))
    response = llm.chat_completions(HI)
    assert response.error_type == LLMErrorType.AUTH and calls == []
    assert "OPENAI_API_KEY" in response.content and "LITELLM_API_KEY" in response.content
    with caplog.at_level(logging.WARNING):
        llm.warmup()
    assert "set OPENAI_API_KEY" in caplog.text


def test_a_fallback_without_its_key_is_skipped(monkeypatch) -> None:
    monkeypatch.delenv("GROQ_API_KEY", raising=False)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-9")
    calls: list[str] = []

    def completion(**kwargs: Any) -> Any:
        calls.append(kwargs["model"])
        return ensure_litellm().ModelResponse(choices=[{"message": {"role": "assistant", "content": "ok"}}])

    monkeypatch.setattr(ensure_litellm(), "completion", completion)
    llm = _llm(chat_model="groq/llama", fallback_models=["anthropic/claude-x"], api_key=None, api_base=None)
    response = llm.chat_completions(HI)
    assert response.ok and calls == ["anthropic/claude-x"]


def test_director_only_default_llm_is_a_clear_warning_not_an_error(monkeypatch, caplog, tmp_path) -> None:
    monkeypatch.setenv("DIRECTOR_ENV_FILE", str(tmp_path / "none.env"))
    monkeypatch.setenv("DEFAULT_LLM", "videodb_proxy")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-1")
    with caplog.at_level(logging.WARNING):
        llm = get_default_llm()
    assert llm.config.chat_model.startswith("anthropic/")  # the rest of .env still chooses the model
    assert "DEFAULT_LLM=videodb_proxy" in caplog.text and "LITELLM_CHAT_MODEL" in caplog.text
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    unset = get_default_llm()
    assert not unset.configured and "LITELLM_CHAT_MODEL" in unset.chat_completions(HI).content
