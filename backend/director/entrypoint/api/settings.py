"""Server settings, read once at the edge (the app factory / server runner) and passed inward.

Every value comes from the environment or the repo-root ``.env`` (env beats ``.env``). A bad value
fails at start-up with a ``ConfigError`` naming the variable, never later on a request.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from director.constants import ENV_FILE, env_file
from director.db import DEFAULT_SQLITE_DB_PATH, DBType
from director.entrypoint.api.security import LOOPBACK_HOSTS, default_allowed_hosts
from director.errors import ConfigError

# The Vite dev server (`make dev`) is the only other origin a fresh install needs.
DEFAULT_DEV_ORIGINS = ("http://localhost:5173", "http://127.0.0.1:5173")


def _env(name: str) -> Any:
    # One alias per field so the env name is explicit and greppable; populate_by_name keeps
    # the short field names usable from code and tests.
    return AliasChoices(name.lower(), name)


class ServerSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=ENV_FILE,
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
    )

    def __init__(self, **values: Any):
        # Resolved per instance so DIRECTOR_ENV_FILE (used by tests and deployments) is honoured;
        # an explicit ``_env_file=None`` still disables the file entirely.
        values.setdefault("_env_file", env_file())
        super().__init__(**values)

    host: str = Field("127.0.0.1", validation_alias=_env("SERVER_HOST"), min_length=1)
    port: int = Field(8000, validation_alias=_env("SERVER_PORT"), ge=0, le=65535)
    # gunicorn gthread threads; a websocket holds one for its whole life, so this bounds open tabs.
    threads: int = Field(256, validation_alias=_env("SERVER_THREADS"), ge=4, le=10000)

    db_type: DBType = Field(DBType.SQLITE, validation_alias=_env("DB_TYPE"))
    sqlite_db_path: Path = Field(DEFAULT_SQLITE_DB_PATH, validation_alias=_env("SQLITE_DB_PATH"))
    postgres_host: str = Field("127.0.0.1", validation_alias=_env("POSTGRES_HOST"))
    postgres_port: int = Field(5432, validation_alias=_env("POSTGRES_PORT"), ge=1, le=65535)
    postgres_user: str = Field("director", validation_alias=_env("POSTGRES_USER"))
    postgres_password: SecretStr | None = Field(None, validation_alias=_env("POSTGRES_PASSWORD"))
    postgres_db: str = Field("director", validation_alias=_env("POSTGRES_DB"))

    auth_token: SecretStr | None = Field(None, validation_alias=_env("DIRECTOR_AUTH_TOKEN"))
    # Extra allowed browser origins; the server's own origin is always allowed (see security.py).
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_DEV_ORIGINS), validation_alias=_env("DIRECTOR_CORS_ORIGINS")
    )

    # Host names the server answers to (DNS-rebinding protection); None = loopback plus SERVER_HOST.
    allowed_hosts: Annotated[list[str] | None, NoDecode] = Field(
        None,
        validation_alias=_env("DIRECTOR_ALLOWED_HOSTS"),
        description="comma-separated host names (*.example.com for subdomains, * for any)",
    )

    max_steps: int = Field(10, validation_alias=_env("DIRECTOR_MAX_STEPS"), ge=1, le=100)
    agent_timeout: float = Field(60.0, validation_alias=_env("DIRECTOR_AGENT_TIMEOUT"), gt=0, le=3600)
    max_message_chars: int = Field(32000, validation_alias=_env("DIRECTOR_MAX_MESSAGE_CHARS"), ge=1)
    # Off by default: an image URL in model output is how chat text leaks to a third party (the
    # model can be told to put the conversation in the URL by a page web_reader read).
    allow_remote_images: bool = Field(False, validation_alias=_env("DIRECTOR_ALLOW_REMOTE_IMAGES"))
    log_level: Literal["debug", "info", "warning", "error", "critical"] = Field(
        "info", validation_alias=_env("DIRECTOR_LOG_LEVEL")
    )

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower_level(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("auth_token", "postgres_password", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        # `DIRECTOR_AUTH_TOKEN=` in .env means "no token", not "the empty token".
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()] or None
        return value

    @field_validator("allowed_hosts")
    @classmethod
    def _check_hosts(cls, hosts: list[str] | None) -> list[str] | None:
        for host in hosts or ():
            if "/" in host or " " in host or host.startswith(("http:", "https:")):
                raise ValueError(f"{host!r} is not a host name (no scheme, path or spaces)")
        return hosts

    @field_validator("cors_origins")
    @classmethod
    def _check_origins(cls, origins: list[str]) -> list[str]:
        cleaned = []
        for origin in origins:
            # A wildcard would let any site drive the user's sessions with their cookies/token.
            if origin == "*" or not origin.startswith(("http://", "https://")):
                raise ValueError(f"origin {origin!r} must be an http(s)://host[:port] URL, not a wildcard")
            cleaned.append(origin.rstrip("/"))
        return cleaned

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def host_names(self) -> list[str]:
        """The host names the server answers to: loopback, plus ``DIRECTOR_ALLOWED_HOSTS`` or else
        ``SERVER_HOST``. Loopback names are always safe: a rebinding page never uses them."""
        if self.allowed_hosts is not None:
            return [*LOOPBACK_HOSTS, *self.allowed_hosts]
        return default_allowed_hosts(self.host)

    @property
    def auth_required(self) -> bool:
        return self.auth_token is not None


# field name -> (env var, what it accepts), so errors name the variable a user actually sets.
_ACCEPTED = {
    "host": "a host name or IP address",
    "port": "an integer port 0-65535",
    "threads": "an integer 4-10000",
    "db_type": "sqlite or postgres",
    "sqlite_db_path": "a file path",
    "postgres_port": "an integer port 1-65535",
    "allowed_hosts": "comma-separated host names (*.example.com for subdomains, * for any)",
    "cors_origins": "comma-separated http(s) origins such as http://localhost:5173 (no '*')",
    "max_steps": "an integer 1-100",
    "agent_timeout": "seconds, a number > 0 and <= 3600",
    "max_message_chars": "an integer >= 1",
    "allow_remote_images": "true or false",
    "log_level": "debug, info, warning, error or critical",
}


def env_name(field: str) -> str:
    alias = ServerSettings.model_fields[field].validation_alias
    assert isinstance(alias, AliasChoices)
    return str(alias.choices[-1])


def load_server_settings(**overrides: Any) -> ServerSettings:
    """Read the settings, turning pydantic's error into a ``ConfigError`` that names the env variable.

    ``overrides`` go straight to pydantic-settings (tests pass ``_env_file=None`` and field values).
    """
    try:
        return ServerSettings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else ""
        field = next(
            (
                name
                for name in ServerSettings.model_fields
                if field in (name, env_name(name).lower(), env_name(name))
            ),
            field,
        )
        variable = env_name(field) if field in ServerSettings.model_fields else field
        accepted = _ACCEPTED.get(field, "a valid value")
        # pydantic's message may quote the value; fine for these (non-secret) fields, but never for secrets.
        detail = "" if field in ("auth_token", "postgres_password") else f" ({first['msg']})"
        raise ConfigError(variable, accepted, f"{variable} is invalid: expected {accepted}{detail}") from None
