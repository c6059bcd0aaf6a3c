"""Which models a chat may use: ``LITELLM_MODELS`` (curated), the default and fallback models, and
with ``LITELLM_ALLOW_ANY_MODEL=true`` anything LiteLLM can route (a catalog model, or any string with a
provider prefix LiteLLM knows, e.g. a new ``ollama_chat/`` model). For shared deployments where every
model costs money, the default is the configured ones only.
"""

from __future__ import annotations

import logging
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from director.constants import EnvPrefix
from director.errors import InvalidModelError
from director.llm.config import comma_list
from director.llm.credentials import INTERACTIVE_LOGIN_PROVIDERS
from director.settings import DirectorSettings

logger = logging.getLogger(__name__)

MODELS_VAR = f"{EnvPrefix.LITELLM.value}MODELS"
ALLOW_ANY_VAR = f"{EnvPrefix.LITELLM.value}ALLOW_ANY_MODEL"
# Model ids are short; anything longer (or with control characters) is not a model string.
MAX_MODEL_CHARS = 200


class ModelPolicySettings(DirectorSettings):
    """``LITELLM_MODELS`` and ``LITELLM_ALLOW_ANY_MODEL`` (read whatever ``DEFAULT_LLM`` says)."""

    model_config = SettingsConfigDict(env_prefix=EnvPrefix.LITELLM.value)

    models: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="comma-separated LiteLLM model strings offered in every chat"
    )
    allow_any_model: bool = Field(
        default=False, description="true lets a chat use any model LiteLLM can route (each one costs money)"
    )

    _split = field_validator("models", mode="before")(comma_list)


def _routable(model: str) -> bool:
    """True when LiteLLM knows where to send ``model`` (imports LiteLLM)."""
    from director.llm.config import provider_of
    from director.llm.litellm import ensure_litellm

    if provider_of(model) in INTERACTIVE_LOGIN_PROVIDERS:
        return False  # resolving one starts a device login from the server
    try:
        ensure_litellm().get_llm_provider(model=model)
    except Exception:  # LiteLLM raises BadRequestError for a model it cannot route
        return False
    return True


class ModelPolicy:
    def __init__(self, configured: list[str], curated: list[str], allow_any: bool):
        # Order matters for the UI and for error messages: the default first, then curated, then fallbacks.
        default, *fallbacks = configured or [""]
        self.default = default or None
        self.allowed = list(dict.fromkeys(m for m in [default, *curated, *fallbacks] if m))
        self._allowed = frozenset(self.allowed)
        self.allow_any = allow_any

    @classmethod
    def from_settings(cls, configured: list[str], settings: ModelPolicySettings | None = None) -> ModelPolicy:
        settings = settings or ModelPolicySettings()
        return cls(configured, settings.models, settings.allow_any_model)

    def is_allowed(self, model: str) -> bool:
        return model in self._allowed or (self.allow_any and _routable(model))

    def check(self, model: str) -> str:
        """``model`` when a chat may use it, else ``InvalidModelError`` saying which setting allows it."""
        if model in self._allowed:
            return model
        if self.allow_any:
            if _routable(model):
                return model
            raise InvalidModelError(
                model,
                ALLOW_ANY_VAR,
                f"LiteLLM does not know the model {model[:MAX_MODEL_CHARS]!r}: use a provider prefix it knows "
                "(e.g. ollama_chat/llama3.1, openai/gpt-4o) or pick one from the model list.",
            )
        offered = ", ".join(self.allowed[:8]) or "none"
        raise InvalidModelError(
            model,
            MODELS_VAR,
            f"The model {model[:MAX_MODEL_CHARS]!r} is not allowed on this server: add it to {MODELS_VAR} "
            f"(or set {ALLOW_ANY_VAR}=true) and restart. Allowed: {offered}.",
        )
