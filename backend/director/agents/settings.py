"""Settings the shipped agents read (env prefix ``DIRECTOR_``), loaded per call so tests can set env."""

from __future__ import annotations

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from director.constants import env_file
from director.errors import ConfigError

_ACCEPTED = {
    "allow_private_urls": "true or false",
    "web_max_bytes": "an integer > 0 (bytes)",
    "web_timeout_s": "seconds, a number > 0",
    "compare_max_models": "an integer >= 1",
}


class AgentSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DIRECTOR_", env_file_encoding="utf-8", extra="ignore")

    # SSRF guard: by default web_reader refuses hosts that resolve to private/loopback/link-local addresses.
    allow_private_urls: bool = False
    web_max_bytes: int = Field(2_000_000, gt=0)
    web_timeout_s: float = Field(15.0, gt=0)
    # compare_models runs at most this many models per call (each is a paid LLM call).
    compare_max_models: int = Field(6, ge=1)


def load_agent_settings() -> AgentSettings:
    """Raises ``ConfigError`` naming the variable; the server calls this at start-up so a bad value
    fails there rather than as an agent error in the middle of someone's turn."""
    try:
        return AgentSettings(_env_file=env_file())
    except ValidationError as exc:
        field = str(exc.errors()[0]["loc"][0]) if exc.errors()[0]["loc"] else ""
        variable = f"DIRECTOR_{field.upper()}"
        accepted = _ACCEPTED.get(field, "a valid value")
        raise ConfigError(variable, accepted, f"{variable} is invalid: expected {accepted}") from None
