"""Which credentials and base URL go with a model, and which variables are missing for it.

``LITELLM_API_KEY`` / ``LITELLM_API_BASE`` / ``LITELLM_EXTRA_PARAMS`` belong to the default model's
provider (its *home* provider). Every other provider takes LiteLLM's own variables (``OPENAI_API_KEY``,
``ANTHROPIC_API_BASE``, ``OLLAMA_API_BASE``, ``AWS_*``...). LiteLLM reads those from ``os.environ`` only;
``ProviderEnv`` also reads them from ``.env``, once, so a key a user put there is not ignored.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path

from dotenv import dotenv_values

logger = logging.getLogger(__name__)

# The variable a provider's base URL lives in, by LiteLLM model prefix, for a model on another provider
# than the default one (for values only in .env, LiteLLM reads os.environ itself; a proxy's, which
# LiteLLM would replace by OpenAI's public URL).
OTHER_PROVIDER_BASE_VARS: dict[str, list[str]] = {
    "litellm_proxy": ["LITELLM_PROXY_API_BASE"],
    "openai": ["OPENAI_API_BASE", "OPENAI_BASE_URL"],
    "anthropic": ["ANTHROPIC_API_BASE", "ANTHROPIC_BASE_URL"],
    "ollama": ["OLLAMA_API_BASE"],
    "ollama_chat": ["OLLAMA_API_BASE"],
    "azure": ["AZURE_API_BASE"],
    "gemini": ["GEMINI_API_BASE"],
    "hosted_vllm": ["HOSTED_VLLM_API_BASE"],
    "groq": ["GROQ_API_BASE"],
    "mistral": ["MISTRAL_API_BASE"],
}

# Providers LiteLLM says need a base URL, though they have a working default (Ollama: localhost:11434).
_DEFAULT_BASE = {"ollama": "OLLAMA_API_BASE", "ollama_chat": "OLLAMA_API_BASE"}


# Providers whose credentials are an interactive OAuth device login: LiteLLM starts that flow (network
# calls, a code to type in) as soon as it resolves such a model. A server cannot complete it, so these
# are never resolved, listed or allowed.
INTERACTIVE_LOGIN_PROVIDERS = frozenset({"github_copilot", "chatgpt"})


class CredentialStatus(StrEnum):
    OK = "ok"  # every variable LiteLLM asks for is set
    MISSING = "missing"  # some are not: ``missing_env`` names them
    NOT_NEEDED = "not_needed"  # the provider needs none (a local server)


class ProviderEnv:
    """The environment overlaid on ``.env`` (the environment wins), read once."""

    def __init__(self, env_path: Path | None, environ: Mapping[str, str] | None = None):
        values: dict[str, str] = {}
        if env_path is not None and env_path.is_file():
            values = {k.upper(): v.strip() for k, v in dotenv_values(env_path).items() if v and v.strip()}
        environ = os.environ if environ is None else environ
        values.update({k: v.strip() for k, v in environ.items() if v and v.strip()})
        self._values = values
        self._missing: dict[tuple[str, bool, bool], tuple[CredentialStatus, list[str]]] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> str | None:
        return self._values.get(name)

    def first(self, names: list[str]) -> str | None:
        for name in names:
            value = self._values.get(name)
            if value:
                return value
        return None

    def check(
        self, model: str, provider: str, has_key: bool, has_base: bool
    ) -> tuple[CredentialStatus, list[str]]:
        """LiteLLM's ``validate_environment`` for ``model``, counting variables set in ``.env`` too.

        Cached per model: the answer depends only on settings read at start-up.
        """
        cache_key = (model, has_key, has_base)
        cached = self._missing.get(cache_key)
        if cached is not None:
            return cached
        if provider in INTERACTIVE_LOGIN_PROVIDERS:
            return (CredentialStatus.MISSING, [])
        from director.llm.litellm import ensure_litellm

        try:
            result = ensure_litellm().validate_environment(
                model=model, api_key="set" if has_key else None, api_base="set" if has_base else None
            )
        except Exception:  # an odd model string: let the call itself report what is wrong
            logger.debug("validate_environment failed for %s", model, exc_info=True)
            result = {"keys_in_environment": False, "missing_keys": []}
        asked = list(result.get("missing_keys") or [])
        missing = [name for name in asked if not self.get(name) and name != _DEFAULT_BASE.get(provider)]
        if missing:
            answer = (CredentialStatus.MISSING, missing)
        elif result.get("keys_in_environment") or has_key or any(self.get(name) for name in asked):
            answer = (CredentialStatus.OK, [])
        else:
            answer = (CredentialStatus.NOT_NEEDED, [])
        with self._lock:
            self._missing[cache_key] = answer
        return answer


def missing_key_message(model: str, missing: list[str], home_variable: str | None) -> str:
    """What a user reads when a model's credentials are not set (no call was made)."""
    names = " and ".join(missing)
    also = f" (or {home_variable}, for the default model's provider)" if home_variable else ""
    return (
        f"No credentials are set for {model}, so nothing reached the provider: set {names}{also} "
        "in .env or the environment, then restart the server."
    )
