"""``LITELLM_CALLBACKS``: send every model call to the tracing tools LiteLLM supports natively.

A comma-separated list of LiteLLM callback names (``langfuse``, ``otel``, ``datadog``, ...: each
reads its own settings, e.g. ``LANGFUSE_PUBLIC_KEY``, from the environment) and/or ``module:ClassName``
of a ``litellm.integrations.custom_logger.CustomLogger`` subclass, made once with no arguments.
Every call carries ``metadata`` ``{session_id, msg_id, agent, user}`` (``llm/call_metadata.py``).
LiteLLM runs callbacks outside the call and catches their errors: a failing callback never fails a turn.
"""

from __future__ import annotations

import importlib
import logging
import re
import threading
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from director.errors import ConfigError
from director.llm import streaming_logging
from director.llm.litellm import ensure_litellm
from director.settings import DirectorSettings

logger = logging.getLogger(__name__)

SETTING = "LITELLM_CALLBACKS"
_NAME = re.compile(r"[a-z][a-z0-9_]*")
_CLASS_REF = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*")
_installed: set[str] = set()
_lock = threading.Lock()


class CallbackSettings(DirectorSettings):
    model_config = SettingsConfigDict(env_prefix="LITELLM_")

    callbacks: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="comma-separated LiteLLM callback names (langfuse, otel, ...) or module:ClassName of a CustomLogger",
    )

    @field_validator("callbacks", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [item.strip() for item in value.split(",") if item.strip()]
        for item in value:
            if not (_NAME.fullmatch(item) or _CLASS_REF.fullmatch(item)):
                raise ValueError(f"not a callback name or module:ClassName: {item!r}")
        return value


def load_callback_settings() -> CallbackSettings:
    """Raises ``ConfigError``; also imports each ``module:ClassName`` so a typo stops start-up."""
    settings = CallbackSettings()
    for item in settings.callbacks:
        if ":" in item:
            _load_class(item)
    return settings


def _load_class(ref: str) -> type:
    module_name, _, class_name = ref.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(
            SETTING,
            "callback names or module:ClassName of a CustomLogger",
            f"{SETTING}: cannot import {ref} ({type(exc).__name__}: {exc}).",
        ) from exc
    if not isinstance(cls, type):
        raise ConfigError(SETTING, "module:ClassName of a CustomLogger", f"{SETTING}: {ref} is not a class.")
    return cls


def install_callbacks(settings: CallbackSettings | None = None) -> list[Any]:
    """Register the configured callbacks with LiteLLM (once each per process). Returns what was added."""
    settings = settings or load_callback_settings()
    if not settings.callbacks:
        return []
    litellm = ensure_litellm()
    added: list[Any] = []
    with _lock:
        for item in settings.callbacks:
            if item in _installed:
                continue
            callback = _load_class(item)() if ":" in item else item
            litellm.callbacks.append(callback)
            _installed.add(item)
            added.append(callback)
        # LiteLLM's streaming success logging is off while nobody listens (llm/streaming_logging.py);
        # with callbacks registered, they must hear about streamed calls too.
        streaming_logging.apply(litellm)
    logger.info("LiteLLM callbacks: %s", ", ".join(settings.callbacks))
    return added
