"""get_default_llm() precedence, NotConfiguredLLM and describe_llm()."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from director.constants import LLMType
from director.errors import ConfigError
from director.llm import NotConfiguredLLM, describe_llm, get_default_llm
from director.llm.base import LLMErrorType, LLMResponse, LLMResponseStatus
from director.llm.litellm import LiteLLM


def test_nothing_configured_gives_not_configured_llm() -> None:
    llm = get_default_llm()
    assert isinstance(llm, NotConfiguredLLM)
    assert llm.configured is False
    r = llm.chat_completions([{"role": "user", "content": "hi"}])
    assert r.status == LLMResponseStatus.ERROR
    assert r.error_type == LLMErrorType.NOT_CONFIGURED
    for hint in (".env", "LITELLM_CHAT_MODEL", "ANTHROPIC_API_KEY", "OPENAI_API_KEY", "GEMINI_API_KEY"):
        assert hint in r.content


def test_not_configured_stream_ends_with_the_same_error() -> None:
    events = list(NotConfiguredLLM().chat_completions_stream([{"role": "user", "content": "hi"}]))
    assert len(events) == 1
    assert isinstance(events[0], LLMResponse) and events[0].error_type == LLMErrorType.NOT_CONFIGURED


def test_litellm_chat_model_selects_litellm(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LITELLM_CHAT_MODEL", "ollama_chat/llama3.1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-ignored-0")
    llm = get_default_llm()
    assert isinstance(llm, LiteLLM)
    assert llm.config.llm_type == LLMType.LITELLM
    assert llm.config.chat_model == "ollama_chat/llama3.1"


@pytest.mark.parametrize(
    ("variable", "llm_type", "model"),
    [
        ("OPENAI_API_KEY", LLMType.OPENAI, "openai/gpt-4o"),
        ("ANTHROPIC_API_KEY", LLMType.ANTHROPIC, "anthropic/claude-sonnet-4-5"),
        ("GOOGLEAI_API_KEY", LLMType.GOOGLEAI, "gemini/gemini-2.5-flash"),
        ("GEMINI_API_KEY", LLMType.GOOGLEAI, "gemini/gemini-2.5-flash"),
    ],
)
def test_a_provider_key_selects_its_preset(
    monkeypatch: pytest.MonkeyPatch, variable: str, llm_type: LLMType, model: str
) -> None:
    monkeypatch.setenv(variable, "sk-test-key-for-selection")
    llm = get_default_llm()
    assert isinstance(llm, LiteLLM)
    assert llm.config.llm_type == llm_type
    assert llm.config.chat_model == model
    assert llm.config.api_key.get_secret_value() == "sk-test-key-for-selection"


def test_provider_key_order_openai_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-x-000000")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-x-000000")
    assert get_default_llm().config.llm_type == LLMType.OPENAI


def test_default_llm_beats_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEFAULT_LLM", "anthropic")
    monkeypatch.setenv("LITELLM_CHAT_MODEL", "openai/gpt-4o")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-x-000000")
    llm = get_default_llm()
    assert llm.config.llm_type == LLMType.ANTHROPIC
    assert llm.config.chat_model == "anthropic/claude-sonnet-4-5"


def test_default_llm_litellm_without_model_is_not_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEFAULT_LLM", "litellm")
    llm = get_default_llm()
    assert isinstance(llm, NotConfiguredLLM)
    assert "LITELLM_CHAT_MODEL" in llm.chat_completions([]).content


def test_unknown_default_llm_lists_valid_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEFAULT_LLM", "skynet")
    with pytest.raises(ConfigError) as info:
        get_default_llm()
    assert info.value.variable == "DEFAULT_LLM"
    for valid in ("litellm", "openai", "anthropic", "googleai"):
        assert valid in info.value.message
    assert "skynet" in info.value.message


def test_selection_reads_dotenv(isolated_env: Path) -> None:
    isolated_env.write_text("DEFAULT_LLM=googleai\nGEMINI_API_KEY=AIza-from-dotenv-5\n")
    llm = get_default_llm()
    assert llm.config.llm_type == LLMType.GOOGLEAI
    assert llm.config.api_key.get_secret_value() == "AIza-from-dotenv-5"


def test_bad_setting_raises_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LITELLM_CHAT_MODEL", "openai/gpt-4o")
    monkeypatch.setenv("LITELLM_TEMPERATURE", "9")
    with pytest.raises(ConfigError, match="LITELLM_TEMPERATURE"):
        get_default_llm()


class TestDescribe:
    def test_configured_without_secrets(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("LITELLM_CHAT_MODEL", "anthropic/claude-sonnet-4-5")
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-secret-describe")
        info = describe_llm()
        assert info == {
            "llm_configured": True,
            "llm_type": "litellm",
            "chat_model": "anthropic/claude-sonnet-4-5",
        }
        assert "sk-ant-secret-describe" not in repr(info)

    def test_not_configured(self) -> None:
        assert describe_llm() == {"llm_configured": False, "llm_type": None, "chat_model": None}

    def test_bad_settings_are_reported_not_raised(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("DEFAULT_LLM", "nope")
        info = describe_llm()
        assert info["llm_configured"] is False
        assert "DEFAULT_LLM" in info["error"]


def test_importing_director_llm_does_not_import_litellm() -> None:
    # A fresh interpreter: litellm may already be loaded in this test process.
    code = "import sys, director, director.llm; print('litellm' in sys.modules, 'openai' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
