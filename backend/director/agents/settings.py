"""Settings the shipped agents read (env prefix ``DIRECTOR_``), loaded per call so tests can set env."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from director.settings import DirectorSettings


class AgentSettings(DirectorSettings):
    model_config = SettingsConfigDict(env_prefix="DIRECTOR_")

    # SSRF guard: by default web_reader refuses hosts that resolve to private/loopback/link-local addresses.
    allow_private_urls: bool = False
    web_max_bytes: int = Field(2_000_000, gt=0, description="bytes")
    web_timeout_s: float = Field(15.0, gt=0, description="seconds")
    # compare_models runs at most this many models per call (each is a paid LLM call).
    compare_max_models: int = Field(6, ge=1)


def load_agent_settings() -> AgentSettings:
    """Raises ``ConfigError`` naming the variable; the server calls this at start-up so a bad value
    fails there rather than as an agent error in the middle of someone's turn."""
    return AgentSettings()
