"""The settings base: one ``.env`` for every settings class, and start-up errors whose accepted values
come from each field's own type, bounds and description."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pytest
from director.agents.settings import AgentSettings
from director.core.budget import BudgetSettings
from director.entrypoint.api.settings import ServerSettings
from director.errors import ConfigError
from director.llm.callbacks import CallbackSettings
from director.llm.config import PRESET_CONFIGS
from director.llm.model_policy import ModelPolicySettings
from director.llm.recording import RecordSettings
from director.mcp.config import MCPSettings
from director.settings import DirectorSettings
from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

ALL_SETTINGS: list[type[DirectorSettings]] = [
    ServerSettings,
    AgentSettings,
    MCPSettings,
    RecordSettings,
    ModelPolicySettings,
    BudgetSettings,
    CallbackSettings,
    *PRESET_CONFIGS.values(),
]


class Example(DirectorSettings):
    model_config = SettingsConfigDict(env_prefix="EXAMPLE_")

    ratio: float = Field(0.5, ge=0, le=1)
    count: int = Field(3, gt=0, description="items")
    ceiling: float | None = Field(None, le=10)
    mode: Literal["fast", "slow"] = "fast"
    flag: bool = False
    secret: SecretStr | None = None
    path: str = Field("x", description="a file name")


@pytest.mark.parametrize(
    ("field", "accepted"),
    [
        ("ratio", "a number between 0 and 1"),
        ("count", "a whole number greater than 0 (items)"),
        ("ceiling", "a number at most 10"),
        ("mode", "fast or slow"),
        ("flag", "true or false"),
        ("path", "a file name"),
    ],
)
def test_accepted_values_come_from_the_field(field: str, accepted: str) -> None:
    assert Example.accepted(field) == accepted


@pytest.mark.parametrize("cls", ALL_SETTINGS, ids=lambda cls: cls.__name__)
def test_every_setting_says_what_it_accepts(cls: type[DirectorSettings]) -> None:
    # A field with neither a describable type nor a description would fall back to "a valid value".
    vague = [cls.env_name(f) for f in cls.model_fields if cls.accepted(f) == "a valid value"]
    assert not vague, f"give these a description: {vague}"


def test_error_names_the_variable_says_what_it_accepts_and_what_it_got(monkeypatch) -> None:
    monkeypatch.setenv("EXAMPLE_RATIO", "lots")
    with pytest.raises(ConfigError) as info:
        Example()
    assert info.value.variable == "EXAMPLE_RATIO"
    assert info.value.accepted == "a number between 0 and 1"
    assert info.value.message == "EXAMPLE_RATIO must be a number between 0 and 1; got 'lots'."


def test_validator_reason_is_kept(monkeypatch) -> None:
    monkeypatch.setenv("DIRECTOR_CORS_ORIGINS", "*")
    with pytest.raises(ConfigError) as info:
        ServerSettings(_env_file=None)
    assert "not a wildcard" in info.value.message and info.value.message.count("\n") == 0


def test_a_long_value_is_shortened() -> None:
    with pytest.raises(ConfigError) as info:
        Example(_env_file=None, mode="x" * 500)
    assert len(info.value.message) < 200 and info.value.message.endswith("….")


@pytest.mark.parametrize(
    ("cls", "field"),
    [(Example, "secret"), (ServerSettings, "auth_token"), (ServerSettings, "postgres_password")],
)
def test_a_secret_is_never_quoted_back(cls: type[DirectorSettings], field: str) -> None:
    with pytest.raises(ConfigError) as info:
        cls(_env_file=None, **{field: ["sk-never-shown-0123"]})
    assert info.value.variable == cls.env_name(field)
    assert "sk-never-shown" not in info.value.message


def test_env_names_follow_aliases_and_prefixes() -> None:
    assert ServerSettings.env_name("port") == "SERVER_PORT"
    assert AgentSettings.env_name("web_timeout_s") == "DIRECTOR_WEB_TIMEOUT_S"
    assert PRESET_CONFIGS["googleai"].env_name("api_key") == "GOOGLEAI_API_KEY"
    assert PRESET_CONFIGS["openai"].env_name("chat_model") == "OPENAI_CHAT_MODEL"


def test_every_settings_class_reads_the_one_env_file(isolated_env: Path, monkeypatch, tmp_path: Path) -> None:
    isolated_env.write_text("SERVER_PORT=9100\nDIRECTOR_WEB_MAX_BYTES=123\nLITELLM_TEMPERATURE=0.7\n")
    assert ServerSettings().port == 9100
    assert AgentSettings().web_max_bytes == 123
    assert PRESET_CONFIGS["litellm"]().temperature == 0.7
    # Moved elsewhere with DIRECTOR_ENV_FILE at run time, not import time; None turns it off.
    other = tmp_path / "other.env"
    other.write_text("SERVER_PORT=9200\n")
    monkeypatch.setenv("DIRECTOR_ENV_FILE", str(other))
    assert ServerSettings().port == 9200
    assert ServerSettings(_env_file=None).port == 8000
