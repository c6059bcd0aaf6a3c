"""The LLM for one turn, built from the session's settings: the one place that turns a chat's
``model`` / ``reasoning_effort`` into a ``BaseLLM``.

Everything that can be done once is: the policy is read at start-up, each (model, effort) pair's
adapter is built once and kept (its credentials resolved on first use), so a turn costs a dict lookup.
Callers wrap what ``build`` returns (budgets, recording) as ``BaseLLM`` decorators.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from director.errors import BadPayloadError, ConfigError, InvalidModelError
from director.llm.base import BaseLLM
from director.llm.model_policy import MAX_MODEL_CHARS, ModelPolicy, ModelPolicySettings

# "off" sends no reasoning effort at all; the rest are LiteLLM's values.
REASONING_EFFORTS = ("off", "minimal", "low", "medium", "high")
SETTING_NAMES = ("model", "reasoning_effort")

# Enough for every model a team uses; bounded so LITELLM_ALLOW_ANY_MODEL cannot grow it forever.
CACHE_SIZE = 128


def parse_settings(data: dict[str, Any], *, null_resets: bool) -> dict[str, str | None]:
    """The ``model`` / ``reasoning_effort`` a client sent, checked (``BadPayloadError`` otherwise).

    A missing field is left out (no change). ``null`` (or "") puts the setting back to the server's
    default when ``null_resets`` (PATCH), and means "no change" otherwise (``chat``).
    """
    changes: dict[str, str | None] = {}
    for name in SETTING_NAMES:
        if name not in data:
            continue
        value = data[name]
        if value is None or value == "":
            if null_resets:
                changes[name] = None
            continue
        if not isinstance(value, str):
            raise BadPayloadError(f"invalid_{name}", f"{name} must be a string or null.")
        value = value.strip()
        if name == "model":
            if not value or len(value) > MAX_MODEL_CHARS or not value.isprintable():
                raise BadPayloadError(
                    "invalid_model",
                    f"model must be a LiteLLM model string of 1-{MAX_MODEL_CHARS} characters.",
                )
        else:
            value = value.lower()
            if value not in REASONING_EFFORTS:
                raise BadPayloadError(
                    "invalid_reasoning_effort",
                    f"reasoning_effort must be one of {', '.join(REASONING_EFFORTS)}.",
                )
        changes[name] = value
    return changes


class SessionLLMs:
    """``build(model, reasoning_effort)``: the configured LLM for one chat's settings (None: the default)."""

    def __init__(self, default: BaseLLM, policy: ModelPolicy | None = None):
        self.default = default
        configured = list(getattr(default, "models", None) or [default.config.chat_model or ""])
        self.policy = policy or ModelPolicy.from_settings(configured, ModelPolicySettings())
        self._cache: OrderedDict[tuple[str | None, str | None], BaseLLM] = OrderedDict()
        self._lock = threading.Lock()

    def check(self, changes: dict[str, str | None]) -> None:
        """Refuse a model the policy does not allow (``InvalidModelError``), before anything is stored."""
        model = changes.get("model")
        if model is not None and self.default.configured:
            self.policy.check(model)

    def build(self, model: str | None = None, reasoning_effort: str | None = None) -> BaseLLM:
        if not self.default.configured:
            return self.default  # its answer says what to configure, whatever the chat asked for
        key = (model, reasoning_effort)
        with self._lock:
            llm = self._cache.get(key)
            if llm is not None:
                self._cache.move_to_end(key)
                return llm
        if model is not None:
            # A stored choice the policy no longer allows (the settings changed since) is refused too.
            self.policy.check(model)
        try:
            llm = self.default.with_settings(model, reasoning_effort)
        except ConfigError as exc:  # e.g. a proxy model with no proxy URL set: refused, never sent
            raise InvalidModelError(model or "", exc.variable, exc.message) from None
        with self._lock:
            self._cache[key] = llm
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return llm

    def vision_model(self) -> str | None:
        """The first allowed model that can see images (for a "pick a vision model" hint)."""
        for model in self.policy.allowed:
            try:
                if self.build(model if model != self.policy.default else None, None).supports_vision:
                    return model
            except BadPayloadError:
                continue
        return None
