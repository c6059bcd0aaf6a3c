"""Choosing the LLM from settings: ``get_default_llm()``, ``describe_llm()`` and ``NotConfiguredLLM``.

Importing this module is cheap: LiteLLM itself is only imported on the first call (or ``warmup()``).
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import AliasChoices, Field

from director.constants import LLMType
from director.errors import ConfigError
from director.llm.base import BaseLLM, LLMErrorType, LLMResponse, LLMResponseStatus
from director.llm.config import PRESET_CONFIGS, LiteLLMConfig
from director.llm.litellm import LiteLLM
from director.llm.providers import example, quick_start
from director.settings import DirectorSettings

__all__ = ["NotConfiguredLLM", "describe_llm", "get_default_llm"]

logger = logging.getLogger(__name__)

_FIRST = quick_start()
SETUP_HINT = (
    "Put this in the .env file at the repository root (copy .env.sample), then restart the server: "
    "LITELLM_CHAT_MODEL=<provider/model> and that provider's key, e.g. "
    f"LITELLM_CHAT_MODEL={_FIRST.model} with {_FIRST.key_name}=<your key> "
    f"(or LITELLM_CHAT_MODEL={example('ollama').model} for a local Ollama); "
    "or just one of OPENAI_API_KEY, ANTHROPIC_API_KEY, GOOGLEAI_API_KEY / GEMINI_API_KEY."
)


class _Selection(DirectorSettings):
    """Just the variables that decide which LLM family to use (env beats ``.env``)."""

    default_llm: str | None = None
    litellm_chat_model: str | None = None
    openai_api_key: str | None = None
    anthropic_api_key: str | None = None
    googleai_api_key: str | None = Field(
        default=None, validation_alias=AliasChoices("GOOGLEAI_API_KEY", "GEMINI_API_KEY")
    )

    def set(self, name: str) -> bool:
        value = getattr(self, name)
        return bool(value and value.strip())


class NotConfiguredLLM(BaseLLM):
    """Stands in when no LLM is configured: every call explains exactly what to put in ``.env``."""

    def __init__(self, reason: str = "No language model is configured."):
        super().__init__(LiteLLMConfig.model_construct())
        self.reason = reason

    @property
    def configured(self) -> bool:
        return False

    def chat_completions(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None = None,
        stop: list[str] | None = None,
        response_format: dict[str, Any] | None = None,
    ) -> LLMResponse:
        # Streaming falls back to BaseLLM's default, which yields this same response.
        return LLMResponse(
            content=f"{self.reason} {SETUP_HINT}",
            status=LLMResponseStatus.ERROR,
            error_type=LLMErrorType.NOT_CONFIGURED,
        )


# DEFAULT_LLM=replay: answers from DIRECTOR_REPLAY_FILE (llm/replay.py), not a provider.
REPLAY = "replay"


def _build(llm_type: LLMType) -> BaseLLM:
    config = PRESET_CONFIGS[llm_type]()
    if not config.chat_model:
        return NotConfiguredLLM(
            f"DEFAULT_LLM is {llm_type.value} but {config.env_name('chat_model')} is not set."
        )
    return LiteLLM(config)


def get_default_llm() -> BaseLLM:
    """The LLM the settings ask for.

    1. ``DEFAULT_LLM`` (litellm, openai, anthropic, googleai); anything else is a ``ConfigError``.
    2. else ``LITELLM_CHAT_MODEL`` -> LiteLLM.
    3. else the first provider key found: OPENAI_API_KEY, ANTHROPIC_API_KEY, GOOGLEAI_API_KEY/GEMINI_API_KEY.
    4. else ``NotConfiguredLLM``.
    Raises ``ConfigError`` (naming the variable) for malformed settings.
    """
    selection = _Selection()
    director_only = None
    if selection.set("default_llm"):
        value = (selection.default_llm or "").strip().lower()
        if value == REPLAY:
            from director.llm.replay import replay_llm_from_env

            return replay_llm_from_env()
        valid = [*(t.value for t in LLMType), REPLAY]
        director_only = DIRECTOR_ONLY_TYPES.get(value)
        if director_only is not None:
            _warn_once(value, director_only)
        elif value not in valid:
            raise ConfigError(
                "DEFAULT_LLM",
                ", ".join(valid),
                f"DEFAULT_LLM must be one of {', '.join(valid)} (got {selection.default_llm!r}).",
            )
        else:
            return _build(LLMType(value))
    if selection.set("litellm_chat_model"):
        return _build(LLMType.LITELLM)
    for name, llm_type in (
        ("openai_api_key", LLMType.OPENAI),
        ("anthropic_api_key", LLMType.ANTHROPIC),
        ("googleai_api_key", LLMType.GOOGLEAI),
    ):
        if selection.set(name):
            return _build(llm_type)
    return NotConfiguredLLM(director_only or "No language model is configured.")


# -- Director compatibility (issue 11) -------------------------------------------------------------

# DEFAULT_LLM values of VideoDB's Director that this edition has no counterpart for: an existing
# Director .env keeps starting (the setting is ignored) and the log says what to set instead.
DIRECTOR_ONLY_TYPES = {
    name: (
        f"DEFAULT_LLM={name} is VideoDB Director's hosted proxy, which this edition does not use: "
        "remove DEFAULT_LLM and set LITELLM_CHAT_MODEL=<provider/model> with that provider's key "
        f"(e.g. LITELLM_CHAT_MODEL={_FIRST.model} and {_FIRST.key_name}), or DEFAULT_LLM=openai, "
        "anthropic or googleai with its key."
    )
    for name in ("videodb_proxy", "videodb")
}
_warned: set[str] = set()


def _warn_once(value: str, message: str) -> None:
    if value not in _warned:
        _warned.add(value)
        logger.warning("%s", message)


def describe_llm(llm: BaseLLM | None = None) -> dict[str, Any]:
    """``{llm_configured, llm_type, chat_model}`` for health/config checks: cheap, no secrets.

    With no argument it reads the settings (never imports LiteLLM); a settings error is reported as
    ``llm_configured: False`` plus ``error`` (the ConfigError's safe message) instead of raising.
    """
    if llm is None:
        try:
            llm = get_default_llm()
        except ConfigError as exc:
            return {"llm_configured": False, "llm_type": None, "chat_model": None, "error": exc.message}
    if not llm.configured:
        return {"llm_configured": False, "llm_type": None, "chat_model": None}
    config = llm.config
    return {
        "llm_configured": True,
        "llm_type": config.llm_type.value,
        "chat_model": config.chat_model,
    }
