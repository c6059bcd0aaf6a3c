"""Settings the shipped agents read (env prefix ``DIRECTOR_``), loaded per call so tests can set env."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from director.constants import env_file


class AgentSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DIRECTOR_", env_file_encoding="utf-8", extra="ignore")

    # SSRF guard: by default web_reader refuses hosts that resolve to private/loopback/link-local addresses.
    allow_private_urls: bool = False
    web_max_bytes: int = Field(2_000_000, gt=0)
    web_timeout_s: float = Field(15.0, gt=0)
    # compare_models runs at most this many models per call (each is a paid LLM call).
    compare_max_models: int = Field(6, ge=1)


def load_agent_settings() -> AgentSettings:
    return AgentSettings(_env_file=env_file())
