"""LiteLLMConfig and presets: parsing, validation errors that name the variable, env vs .env."""

from __future__ import annotations

from pathlib import Path

import pytest
from director.constants import LLMType
from director.errors import ConfigError
from director.llm.config import AnthropicConfig, GoogleAIConfig, LiteLLMConfig, OpenAIConfig


def test_defaults_without_any_setting() -> None:
    cfg = LiteLLMConfig()
    assert cfg.chat_model is None
    assert cfg.api_key is None and cfg.api_base is None
    assert cfg.drop_params is True
    assert cfg.num_retries == 2
    assert cfg.fallback_models == [] and cfg.extra_headers == {}


def test_reads_every_variable_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {
        "LITELLM_CHAT_MODEL": "anthropic/claude-sonnet-4-5",
        "LITELLM_API_KEY": "sk-ant-test-abcdef",
        "LITELLM_API_BASE": "http://localhost:4000",
        "LITELLM_TEMPERATURE": "0.3",
        "LITELLM_TOP_P": "0.9",
        "LITELLM_MAX_TOKENS": "512",
        "LITELLM_TIMEOUT": "30",
        "LITELLM_NUM_RETRIES": "4",
        "LITELLM_FALLBACK_MODELS": " openai/gpt-4o , gemini/gemini-2.5-flash,,",
        "LITELLM_DROP_PARAMS": "false",
        "LITELLM_EXTRA_HEADERS": '{"X-Team": "ai"}',
        "LITELLM_REASONING_EFFORT": "HIGH",
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    cfg = LiteLLMConfig()
    assert cfg.chat_model == "anthropic/claude-sonnet-4-5"
    assert cfg.api_key is not None and cfg.api_key.get_secret_value() == "sk-ant-test-abcdef"
    assert cfg.api_base == "http://localhost:4000"
    assert (cfg.temperature, cfg.top_p, cfg.max_tokens, cfg.timeout, cfg.num_retries) == (
        0.3,
        0.9,
        512,
        30.0,
        4,
    )
    assert cfg.fallback_models == ["openai/gpt-4o", "gemini/gemini-2.5-flash"]
    assert cfg.drop_params is False
    assert cfg.extra_headers == {"X-Team": "ai"}
    assert cfg.reasoning_effort == "high"


@pytest.mark.parametrize(
    ("variable", "value", "expected_words"),
    [
        ("LITELLM_TEMPERATURE", "5", "between 0 and 2"),
        ("LITELLM_TEMPERATURE", "warm", "between 0 and 2"),
        ("LITELLM_TOP_P", "1.5", "between 0 and 1"),
        ("LITELLM_MAX_TOKENS", "0", "at least 1"),
        ("LITELLM_MAX_INPUT_TOKENS", "0", "at least 1"),
        ("LITELLM_MAX_INPUT_TOKENS", "16k", "16384"),
        ("LITELLM_TIMEOUT", "-1", "3600"),
        ("LITELLM_NUM_RETRIES", "99", "between 0 and 10"),
        ("LITELLM_EXTRA_HEADERS", "{not json", "JSON object"),
        ("LITELLM_EXTRA_HEADERS", "[1, 2]", "JSON object"),
        ("LITELLM_EXTRA_PARAMS", "{not json", "JSON object"),
        ("LITELLM_EXTRA_PARAMS", '{"api_key": "x"}', "without the ones Director sets itself"),
        ("LITELLM_EXTRA_PARAMS", '{"messages": []}', "without the ones Director sets itself"),
        ("LITELLM_REASONING_EFFORT", "extreme", "low, medium or high"),
        ("LITELLM_DROP_PARAMS", "maybe", "true or false"),
    ],
)
def test_bad_values_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected_words: str
) -> None:
    monkeypatch.setenv("LITELLM_CHAT_MODEL", "openai/gpt-4o")
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as info:
        LiteLLMConfig()
    assert info.value.variable == variable
    assert variable in info.value.message
    assert expected_words in info.value.message


def test_bad_api_key_type_error_does_not_echo_the_key() -> None:
    with pytest.raises(ConfigError) as info:
        LiteLLMConfig(api_key=["sk-should-not-appear-123"])
    assert info.value.variable == "LITELLM_API_KEY"
    assert "sk-should-not-appear" not in info.value.message


def test_empty_key_and_base_are_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LITELLM_CHAT_MODEL", "openai/gpt-4o")
    monkeypatch.setenv("LITELLM_API_KEY", "")
    monkeypatch.setenv("LITELLM_API_BASE", "  ")
    cfg = LiteLLMConfig()
    assert cfg.api_key is None
    assert cfg.api_base is None


def test_env_beats_dotenv(monkeypatch: pytest.MonkeyPatch, isolated_env: Path) -> None:
    isolated_env.write_text("LITELLM_CHAT_MODEL=openai/from-dotenv\nLITELLM_TEMPERATURE=0.5\n")
    monkeypatch.setenv("LITELLM_CHAT_MODEL", "openai/from-env")
    cfg = LiteLLMConfig()
    assert cfg.chat_model == "openai/from-env"
    assert cfg.temperature == 0.5  # only in .env: still read


def test_dotenv_can_be_disabled(isolated_env: Path) -> None:
    isolated_env.write_text("LITELLM_CHAT_MODEL=openai/from-dotenv\n")
    assert LiteLLMConfig(_env_file=None).chat_model is None
    assert LiteLLMConfig().chat_model == "openai/from-dotenv"


def test_provider_key_is_picked_up_from_dotenv(isolated_env: Path) -> None:
    # LiteLLM only reads os.environ; a key a user put in .env must still reach the provider.
    isolated_env.write_text(
        "LITELLM_CHAT_MODEL=anthropic/claude-sonnet-4-5\nANTHROPIC_API_KEY=sk-ant-dotenv-1234\n"
    )
    cfg = LiteLLMConfig()
    assert cfg.api_key is not None and cfg.api_key.get_secret_value() == "sk-ant-dotenv-1234"


def test_explicit_litellm_key_beats_provider_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LITELLM_CHAT_MODEL", "anthropic/claude-sonnet-4-5")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-provider-000")
    monkeypatch.setenv("LITELLM_API_KEY", "sk-litellm-own-111")
    assert LiteLLMConfig().api_key.get_secret_value() == "sk-litellm-own-111"


def test_key_variables_name_the_provider_key() -> None:
    cfg = LiteLLMConfig(_env_file=None, chat_model="anthropic/claude-sonnet-4-5")
    assert cfg.key_variables() == ["LITELLM_API_KEY", "ANTHROPIC_API_KEY"]
    assert "OPENAI_API_KEY" in cfg.key_variables("openai/gpt-4o")


class TestPresets:
    def test_openai_preset_defaults_and_prefix(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-preset-1")
        cfg = OpenAIConfig()
        assert cfg.llm_type == LLMType.OPENAI
        assert cfg.chat_model == "openai/gpt-4o"
        assert cfg.api_key.get_secret_value() == "sk-openai-preset-1"

    def test_bare_model_name_gets_provider_prefix(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("OPENAI_CHAT_MODEL", "gpt-4o-mini")
        monkeypatch.setenv("ANTHROPIC_CHAT_MODEL", "claude-haiku-4-5")
        assert OpenAIConfig().chat_model == "openai/gpt-4o-mini"
        assert AnthropicConfig().chat_model == "anthropic/claude-haiku-4-5"

    def test_anthropic_preset(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-preset-2")
        monkeypatch.setenv("ANTHROPIC_TEMPERATURE", "1.5")
        cfg = AnthropicConfig()
        assert cfg.chat_model == "anthropic/claude-sonnet-4-5"
        assert cfg.temperature == 1.5
        assert cfg.api_key.get_secret_value() == "sk-ant-preset-2"

    def test_googleai_accepts_gemini_api_key(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("GEMINI_API_KEY", "AIza-gemini-key-3")
        cfg = GoogleAIConfig()
        assert cfg.chat_model == "gemini/gemini-2.5-flash"
        assert cfg.api_key.get_secret_value() == "AIza-gemini-key-3"

    def test_googleai_key_beats_gemini_key(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("GEMINI_API_KEY", "AIza-gemini-key-3")
        monkeypatch.setenv("GOOGLEAI_API_KEY", "AIza-googleai-key-4")
        assert GoogleAIConfig().api_key.get_secret_value() == "AIza-googleai-key-4"

    def test_preset_errors_name_the_preset_variable(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("ANTHROPIC_TOP_P", "7")
        with pytest.raises(ConfigError) as info:
            AnthropicConfig()
        assert info.value.variable == "ANTHROPIC_TOP_P"


def test_extra_params_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LITELLM_CHAT_MODEL", "ollama_chat/llama3.1")
    monkeypatch.setenv("LITELLM_EXTRA_PARAMS", '{"num_ctx": 16384, "seed": 7}')
    assert LiteLLMConfig().extra_params == {"num_ctx": 16384, "seed": 7}
    monkeypatch.setenv("LITELLM_EXTRA_PARAMS", "")
    assert LiteLLMConfig().extra_params == {}


def test_extra_params_go_to_the_primary_provider_only() -> None:
    from director.llm.litellm import LiteLLM

    llm = LiteLLM(
        LiteLLMConfig(
            _env_file=None,
            chat_model="ollama_chat/llama3.1",
            extra_params={"num_ctx": 16384},
            fallback_models=["openai/gpt-4o"],
        )
    )
    assert llm._request_kwargs("ollama_chat/llama3.1", stream=False)["num_ctx"] == 16384
    assert "num_ctx" not in llm._request_kwargs("openai/gpt-4o", stream=False)


class TestForModel:
    """``LiteLLMConfig.for_model``: credentials and provider-specific settings never cross providers."""

    def _config(self) -> LiteLLMConfig:
        return LiteLLMConfig(
            _env_file=None,
            chat_model="openai/fake-model",
            api_key="sk-openai-own-0001",
            api_base="http://127.0.0.1:9/v1",
            extra_params={"seed": 7},
            extra_headers={"X-Team": "ai"},
            fallback_models=["anthropic/claude-haiku-4-5"],
            temperature=0.3,
        )

    def test_same_provider_keeps_key_base_and_params(self) -> None:
        base = self._config()
        same = base.for_model("openai/other")
        assert same.chat_model == "openai/other" and same.fallback_models == []
        assert same.api_key.get_secret_value() == "sk-openai-own-0001"
        assert (same.api_base, same.extra_params) == ("http://127.0.0.1:9/v1", {"seed": 7})
        assert (same.temperature, same.extra_headers) == (0.3, {"X-Team": "ai"})
        assert base.chat_model == "openai/fake-model"  # the original is untouched

    def test_other_provider_gets_its_own_key_and_none_of_ours(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-env-0002")
        other = self._config().for_model("anthropic/claude-x")
        assert other.api_key.get_secret_value() == "sk-ant-env-0002"
        assert other.api_base is None and other.extra_params == {}
        assert other.temperature == 0.3  # provider-neutral settings carry over

    def test_other_provider_key_is_read_from_the_dotenv_the_config_came_from(
        self, isolated_env: Path
    ) -> None:
        isolated_env.write_text(
            "LITELLM_CHAT_MODEL=openai/fake-model\nANTHROPIC_API_KEY=sk-ant-dotenv-0003\n"
        )
        base = LiteLLMConfig(api_key="sk-openai-own-0001")
        assert base.for_model("anthropic/claude-x").api_key.get_secret_value() == "sk-ant-dotenv-0003"
        assert base.for_model("groq/llama").api_key is None  # no GROQ_API_KEY anywhere

    def test_adapter_for_model_sends_only_that_providers_settings(self) -> None:
        from director.llm.litellm import LiteLLM

        other = LiteLLM(self._config()).for_model("anthropic/claude-x")
        kwargs = other._request_kwargs("anthropic/claude-x", stream=False)
        assert kwargs["model"] == "anthropic/claude-x"
        assert "seed" not in kwargs and "api_base" not in kwargs
        assert kwargs.get("api_key") != "sk-openai-own-0001"
        assert other.models == ["anthropic/claude-x"]
