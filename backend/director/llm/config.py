"""Settings of the LiteLLM adapter (``LITELLM_*``) and its provider presets (``OPENAI_*``,
``ANTHROPIC_*``, ``GOOGLEAI_*``), and which credentials go with which model.

Each field's type, bounds and ``description`` are what a start-up error says it accepts
(see ``director.settings``).
"""

from __future__ import annotations

import json
import os
from typing import Annotated, Any, ClassVar

from dotenv import dotenv_values
from pydantic import AliasChoices, Field, PrivateAttr, SecretStr, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from director.constants import EnvPrefix, LLMType
from director.llm.base import BaseLLMConfig
from director.llm.credentials import OTHER_PROVIDER_BASE_VARS, CredentialStatus, ProviderEnv
from director.llm.providers import preset_model
from director.llm.proxy import BASE_VARIABLE as PROXY_BASE_VARIABLE
from director.llm.proxy import PROXY_PROVIDER
from director.llm.redact import register_secret

# The env var each provider's key lives in, by LiteLLM model prefix (used to read it from .env when
# the real environment lacks it, and to name it in error messages).
PROVIDER_KEY_VARS: dict[str, list[str]] = {
    "openai": ["OPENAI_API_KEY"],
    "anthropic": ["ANTHROPIC_API_KEY"],
    "gemini": ["GEMINI_API_KEY", "GOOGLEAI_API_KEY"],
    "groq": ["GROQ_API_KEY"],
    "mistral": ["MISTRAL_API_KEY"],
    "deepseek": ["DEEPSEEK_API_KEY"],
    "openrouter": ["OPENROUTER_API_KEY"],
    "xai": ["XAI_API_KEY"],
    "cohere": ["COHERE_API_KEY"],
    "together_ai": ["TOGETHERAI_API_KEY"],
    "azure": ["AZURE_API_KEY"],
    "litellm_proxy": ["LITELLM_PROXY_API_KEY"],
}

# The env var a provider's base URL lives in, where Director must read it itself: without one,
# LiteLLM sends a litellm_proxy/ model (and the proxy's key) to OpenAI's public URL.
PROVIDER_BASE_VARS: dict[str, list[str]] = {PROXY_PROVIDER: [PROXY_BASE_VARIABLE]}

# Parameters Director sets itself (or that carry secrets): LITELLM_EXTRA_PARAMS may not override them.
RESERVED_PARAMS = frozenset(
    {
        "model",
        "messages",
        "tools",
        "tool_choice",
        "stream",
        "stream_options",
        "stop",
        "response_format",
        "api_key",
        "api_base",
        "base_url",
        "timeout",
        "num_retries",
        "max_retries",
        "drop_params",
        "extra_headers",
        "fallbacks",
        "metadata",
        "cache_control_injection_points",
    }
)

# Shared by the presets, which re-declare these fields with their own defaults or aliases.
MODEL_DESCRIPTION = f"a LiteLLM model string such as {preset_model(LLMType.ANTHROPIC)}"
KEY_DESCRIPTION = "the provider's API key"


def comma_list(cls: Any, value: Any) -> Any:
    """A field validator: "a, b," -> ["a", "b"] (LITELLM_FALLBACK_MODELS, LITELLM_MODELS)."""
    if isinstance(value, str):
        return [m.strip() for m in value.split(",") if m.strip()]
    return value


def provider_of(model: str) -> str:
    """LiteLLM's provider for a model string (the prefix; a guess for bare names)."""
    if "/" in model:
        return model.split("/", 1)[0]
    name = model.lower()
    if name.startswith("claude"):
        return "anthropic"
    if name.startswith("gemini"):
        return "gemini"
    return "openai"


class LiteLLMConfig(BaseLLMConfig):
    """Settings for the LiteLLM adapter (env prefix ``LITELLM_``; also read from the repo's ``.env``)."""

    model_config = SettingsConfigDict(env_prefix=EnvPrefix.LITELLM.value)

    # Presets put their provider in front of a bare model name ("gpt-4o" -> "openai/gpt-4o").
    model_prefix: ClassVar[str | None] = None

    llm_type: LLMType = LLMType.LITELLM
    chat_model: str | None = Field(default=None, description=MODEL_DESCRIPTION)
    api_key: SecretStr | None = Field(default=None, description=KEY_DESCRIPTION)
    api_base: str | None = Field(default=None, description="a URL such as http://localhost:4000")
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    max_tokens: int | None = Field(default=None, ge=1)
    timeout: float = Field(default=120.0, gt=0, le=3600, description="seconds")
    num_retries: int = Field(default=2, ge=0, le=10)
    # NoDecode: parsed by our validators below (comma list / JSON) so errors name the variable.
    fallback_models: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="comma-separated LiteLLM model strings"
    )
    extra_headers: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=dict, description='a JSON object of strings, e.g. {"X-Team": "ai"}'
    )
    # Provider-specific knobs LiteLLM passes on (Ollama's num_ctx, seed, top_k...), for the primary
    # model's provider only: another provider behind a fallback may reject them.
    extra_params: Annotated[dict[str, Any], NoDecode] = Field(
        default_factory=dict,
        description=(
            'a JSON object of extra completion parameters, e.g. {"num_ctx": 16384} for Ollama or {"seed": 7}, '
            "without the ones Director sets itself (" + ", ".join(sorted(RESERVED_PARAMS)) + ")"
        ),
    )
    # The model's context window in input tokens, for the default model's provider (compaction):
    # overrides LiteLLM's map, e.g. Ollama's num_ctx, which the map cannot know.
    max_input_tokens: int | None = Field(default=None, ge=1, description="tokens, e.g. 16384")
    # Our backoff: base * 2**attempt seconds (or the provider's Retry-After), never above retry_max_wait.
    retry_backoff: float = Field(default=0.5, ge=0, le=60, description="seconds")
    retry_max_wait: float = Field(default=20.0, ge=0, le=600, description="seconds")
    # Mark the stable prompt prefix for providers that cache only up to a marker (llm/prompt_cache.py).
    prompt_caching: bool = True

    # Per-chat copies (``for_chat``) keep the default model's provider as the one LITELLM_API_KEY,
    # LITELLM_API_BASE and LITELLM_EXTRA_PARAMS were written for; None: the chat model's own.
    _home_provider: str | None = PrivateAttr(default=None)
    _provider_env: ProviderEnv | None = PrivateAttr(default=None)
    _credentials: dict[str, tuple[str | None, str | None, bool]] = PrivateAttr(default_factory=dict)

    def __init__(self, **values: Any):
        super().__init__(**values)
        self._use_provider_key()

    @classmethod
    def env_prefix(cls) -> str:
        return cls.model_config.get("env_prefix", "")

    @field_validator("chat_model", "api_base", "reasoning_effort", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip()
            return value or None
        return value

    @field_validator("api_key", mode="before")
    @classmethod
    def _blank_key_is_unset(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return None  # an empty key is never forwarded: LiteLLM then uses the provider's env var
        return value.strip() if isinstance(value, str) else value

    @field_validator("reasoning_effort", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @field_validator("chat_model", mode="after")
    @classmethod
    def _prefix_model(cls, value: str | None) -> str | None:
        if value and cls.model_prefix and "/" not in value:
            return f"{cls.model_prefix}/{value}"
        return value

    _split_models = field_validator("fallback_models", mode="before")(comma_list)

    @field_validator("extra_params", mode="before")
    @classmethod
    def _parse_params(cls, value: Any) -> Any:
        value = cls._parse_headers(value)
        if isinstance(value, dict) and RESERVED_PARAMS & set(value):
            raise ValueError("sets a parameter Director sets itself")
        return value

    @field_validator("extra_headers", mode="before")
    @classmethod
    def _parse_headers(cls, value: Any) -> Any:
        if isinstance(value, str):
            if not value.strip():
                return {}
            try:
                value = json.loads(value)
            except ValueError as exc:
                raise ValueError("not valid JSON") from exc
            if not isinstance(value, dict):
                raise ValueError("not a JSON object")
        return value

    def for_model(self, model: str) -> LiteLLMConfig:
        """These settings for ``model`` alone (no fallbacks); this object is left as it is.

        The key, base URL and extra parameters were written for the configured model's provider:
        ``model`` keeps them only if it has the same provider. Otherwise they are never sent to it,
        and it uses its own provider's key (from the environment or ``.env``).
        """
        update: dict[str, Any] = {"chat_model": model, "fallback_models": []}
        if provider_of(model) != provider_of(self.chat_model or ""):
            update.update(api_key=None, api_base=None, extra_params={})
        config = self.model_copy(update=update)
        config._credentials = {}  # model_copy shares the parent's cache; this copy's answers differ
        config._use_provider_key()
        return config

    def _use_provider_key(self) -> None:
        if self.api_key is None:
            self.api_key = self.provider_key()
        if self.api_key is not None:
            register_secret(self.api_key.get_secret_value())
        if self.api_base is None:
            self.api_base = self._provider_setting(PROVIDER_BASE_VARS)

    def provider_key(self) -> SecretStr | None:
        """The chat model's provider key from the environment or, failing that, from ``.env``.

        LiteLLM only looks at ``os.environ``; a key a user put in ``.env`` would otherwise be ignored.
        """
        value = self._provider_setting(PROVIDER_KEY_VARS)
        return SecretStr(value) if value else None

    def _provider_setting(self, variables: dict[str, list[str]]) -> str | None:
        """The first of the chat model's provider's ``variables`` set in the environment, else in ``.env``."""
        if not self.chat_model:
            return None
        names = variables.get(provider_of(self.chat_model), [])
        for name in names:
            if os.environ.get(name, "").strip():
                return os.environ[name].strip()
        if names and self._env_path is not None and self._env_path.is_file():
            file_values = {k.upper(): v for k, v in dotenv_values(self._env_path).items() if v}
            for name in names:
                if file_values.get(name, "").strip():
                    return file_values[name].strip()
        return None

    def key_variables(self, model: str | None = None) -> list[str]:
        """The env vars a user should check when ``model``'s key is rejected."""
        own = [f"{self.env_prefix()}API_KEY"]
        provider_vars = PROVIDER_KEY_VARS.get(provider_of(model or self.chat_model or ""), [])
        return list(dict.fromkeys(own + provider_vars))

    # -- per-chat settings (issue 11) --

    @property
    def home_provider(self) -> str:
        """The provider LITELLM_API_KEY / API_BASE / EXTRA_PARAMS were written for."""
        return self._home_provider or provider_of(self.chat_model or "")

    def provider_env(self) -> ProviderEnv:
        """The environment over ``.env``, read once and shared by every per-chat copy."""
        if self._provider_env is None:
            self._provider_env = ProviderEnv(self._env_path)
        return self._provider_env

    def for_chat(self, model: str | None, reasoning_effort: str | None) -> LiteLLMConfig:
        """These settings for one chat: its model first, then the configured fallbacks; every other
        knob (timeouts, retries, headers) as configured. ``reasoning_effort`` "off" sends none, None
        keeps the configured one. This object is left as it is."""
        update: dict[str, Any] = {}
        if model and model != self.chat_model:
            update["chat_model"] = model
            update["fallback_models"] = [m for m in self.fallback_models if m != model]
        if reasoning_effort is not None:
            update["reasoning_effort"] = None if reasoning_effort == "off" else reasoning_effort
        if not update:
            return self
        home = self.home_provider
        env = self.provider_env()
        config = self.model_copy(update=update)
        config._home_provider = home
        config._provider_env = env
        config._credentials = {}
        return config

    def credentials_for(self, model: str) -> tuple[str | None, str | None, bool]:
        """``(api_key, api_base, is_home)`` for a call to ``model``. Cached: read once per model."""
        cached = self._credentials.get(model)
        if cached is not None:
            return cached
        provider = provider_of(model)
        if provider == self.home_provider:
            key = self.api_key.get_secret_value() if self.api_key is not None else None
            answer = (key, self.api_base, True)
        else:
            env = self.provider_env()
            key = env.first(PROVIDER_KEY_VARS.get(provider, []))
            if key:
                register_secret(key)
            answer = (key, env.first(OTHER_PROVIDER_BASE_VARS.get(provider, [])), False)
        self._credentials[model] = answer
        return answer

    def credential_status(self, model: str) -> tuple[CredentialStatus, list[str]]:
        """Whether ``model``'s credentials are set, and the missing variables (imports LiteLLM)."""
        key, base, _ = self.credentials_for(model)
        return self.provider_env().check(model, provider_of(model), key is not None, base is not None)


class OpenAIConfig(LiteLLMConfig):
    """``DEFAULT_LLM=openai``: OPENAI_CHAT_MODEL (default: the OpenAI example in providers.json), OPENAI_API_KEY, ..."""

    model_config = SettingsConfigDict(env_prefix=EnvPrefix.OPENAI.value)
    model_prefix: ClassVar[str | None] = "openai"
    llm_type: LLMType = LLMType.OPENAI
    chat_model: str | None = Field(default=preset_model(LLMType.OPENAI), description=MODEL_DESCRIPTION)


class AnthropicConfig(LiteLLMConfig):
    """``DEFAULT_LLM=anthropic``: ANTHROPIC_CHAT_MODEL (default: the Anthropic example in providers.json),
    ANTHROPIC_API_KEY, ..."""

    model_config = SettingsConfigDict(env_prefix=EnvPrefix.ANTHROPIC.value)
    model_prefix: ClassVar[str | None] = "anthropic"
    llm_type: LLMType = LLMType.ANTHROPIC
    chat_model: str | None = Field(default=preset_model(LLMType.ANTHROPIC), description=MODEL_DESCRIPTION)


class GoogleAIConfig(LiteLLMConfig):
    """``DEFAULT_LLM=googleai``: GOOGLEAI_CHAT_MODEL (default: the Gemini example in providers.json),
    GOOGLEAI_API_KEY or GEMINI_API_KEY, ..."""

    model_config = SettingsConfigDict(env_prefix=EnvPrefix.GOOGLEAI.value, populate_by_name=True)
    model_prefix: ClassVar[str | None] = "gemini"
    llm_type: LLMType = LLMType.GOOGLEAI
    chat_model: str | None = Field(default=preset_model(LLMType.GOOGLEAI), description=MODEL_DESCRIPTION)
    api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("api_key", "GOOGLEAI_API_KEY", "GEMINI_API_KEY"),
        description=KEY_DESCRIPTION,
    )


PRESET_CONFIGS: dict[LLMType, type[LiteLLMConfig]] = {
    LLMType.LITELLM: LiteLLMConfig,
    LLMType.OPENAI: OpenAIConfig,
    LLMType.ANTHROPIC: AnthropicConfig,
    LLMType.GOOGLEAI: GoogleAIConfig,
}
