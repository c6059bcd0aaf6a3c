"""Server settings, read once at the edge (the app factory / server runner) and passed inward.

Every value comes from the environment or the repo-root ``.env`` (env beats ``.env``). A bad value
fails at start-up with a ``ConfigError`` naming the variable, never later on a request.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from director.db import DEFAULT_SQLITE_DB_PATH, DBType
from director.entrypoint.api.security import LOOPBACK_HOSTS, default_allowed_hosts
from director.settings import DirectorSettings

# What Flask-SocketIO's Redis message queue accepts (checked here so redis need not be imported).
MESSAGE_QUEUE_SCHEMES = ("redis", "rediss", "unix")

# The Vite dev server (`make dev`) is the only other origin a fresh install needs.
DEFAULT_DEV_ORIGINS = ("http://localhost:5173", "http://127.0.0.1:5173")


class ServerWorker(StrEnum):
    """How one server process serves its sockets (server.py)."""

    GTHREAD = "gthread"
    GEVENT = "gevent"


def _env(name: str) -> Any:
    # One alias per field so the env name is explicit and greppable; populate_by_name keeps
    # the short field names usable from code and tests.
    return AliasChoices(name.lower(), name)


class ServerSettings(DirectorSettings):
    """What each field accepts (its type, bounds and description) is also what a start-up error says."""

    model_config = SettingsConfigDict(populate_by_name=True)

    host: str = Field(
        "127.0.0.1",
        validation_alias=_env("SERVER_HOST"),
        min_length=1,
        description="a host name or IP address",
    )
    port: int = Field(8000, validation_alias=_env("SERVER_PORT"), ge=0, le=65535, description="a TCP port")
    # gunicorn gthread threads; a websocket holds one for its whole life, so this bounds open tabs.
    threads: int = Field(256, validation_alias=_env("SERVER_THREADS"), ge=4, le=10000)
    # gevent (the default): sockets on gevent's hub, turns and requests in real threads (thread_bridge.py);
    # SERVER_MAX_SOCKETS bounds open tabs. gthread: a thread per socket (SERVER_THREADS bounds open tabs).
    worker: ServerWorker = Field(ServerWorker.GEVENT, validation_alias=_env("SERVER_WORKER"))
    max_sockets: int = Field(
        4000,
        validation_alias=_env("SERVER_MAX_SOCKETS"),
        ge=2,
        le=100_000,
        description="the open browser tabs (Socket.IO connections) one gevent process holds",
    )

    db_type: DBType = Field(DBType.SQLITE, validation_alias=_env("DB_TYPE"))
    sqlite_db_path: Path = Field(
        DEFAULT_SQLITE_DB_PATH, validation_alias=_env("SQLITE_DB_PATH"), description="a file path"
    )
    postgres_host: str = Field(
        "127.0.0.1", validation_alias=_env("POSTGRES_HOST"), description="a host name or IP address"
    )
    postgres_port: int = Field(
        5432, validation_alias=_env("POSTGRES_PORT"), ge=1, le=65535, description="a TCP port"
    )
    postgres_user: str = Field("director", validation_alias=_env("POSTGRES_USER"), description="a user name")
    postgres_password: SecretStr | None = Field(
        None, validation_alias=_env("POSTGRES_PASSWORD"), description="a password"
    )
    postgres_db: str = Field("director", validation_alias=_env("POSTGRES_DB"), description="a database name")

    # Redis URL of the Socket.IO message queue that makes several server processes act as one
    # (`make cluster`, a team deployment); None = one process on its own. Secret: it may hold a password.
    message_queue: SecretStr | None = Field(
        None,
        validation_alias=_env("DIRECTOR_MESSAGE_QUEUE"),
        description="a Redis URL such as redis://127.0.0.1:6379/0 (rediss:// and unix:// work too)",
    )

    # With a message queue: how long a busy session's claim outlives a process that stopped renewing it
    # (killed); a cut answer shows as interrupted within twice this. See entrypoint/api/turn_leases.py.
    turn_lease_s: float = Field(
        10.0, validation_alias=_env("DIRECTOR_TURN_LEASE_S"), ge=1, le=12, description="seconds"
    )

    auth_token: SecretStr | None = Field(
        None, validation_alias=_env("DIRECTOR_AUTH_TOKEN"), description="a token (any text; blank for none)"
    )
    # Extra allowed browser origins; the server's own origin is always allowed (see security.py).
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_DEV_ORIGINS),
        validation_alias=_env("DIRECTOR_CORS_ORIGINS"),
        description="comma-separated http(s) origins such as http://localhost:5173 (no '*')",
    )

    # Host names the server answers to (DNS-rebinding protection); None = loopback plus SERVER_HOST.
    allowed_hosts: Annotated[list[str] | None, NoDecode] = Field(
        None,
        validation_alias=_env("DIRECTOR_ALLOWED_HOSTS"),
        description="comma-separated host names (*.example.com for subdomains, * for any)",
    )

    max_steps: int = Field(10, validation_alias=_env("DIRECTOR_MAX_STEPS"), ge=1, le=100)
    agent_timeout: float = Field(
        60.0, validation_alias=_env("DIRECTOR_AGENT_TIMEOUT"), gt=0, le=3600, description="seconds"
    )
    max_message_chars: int = Field(32000, validation_alias=_env("DIRECTOR_MAX_MESSAGE_CHARS"), ge=1)
    # Compaction: the share of the model's context window a request may fill before the chat's oldest
    # turns are summarized (core/compaction.py).
    compact_at: float = Field(
        0.85, validation_alias=_env("DIRECTOR_COMPACT_AT"), gt=0, le=1, description="a fraction such as 0.85"
    )
    # The model titles a new chat after its first answer (one short extra call, off the turn's path).
    auto_title: bool = Field(True, validation_alias=_env("DIRECTOR_AUTO_TITLE"))
    # Off by default: an image URL in model output is how chat text leaks to a third party (the
    # model can be told to put the conversation in the URL by a page web_reader read).
    allow_remote_images: bool = Field(False, validation_alias=_env("DIRECTOR_ALLOW_REMOTE_IMAGES"))
    log_level: Literal["debug", "info", "warning", "error", "critical"] = Field(
        "info", validation_alias=_env("DIRECTOR_LOG_LEVEL")
    )
    # json: one JSON object per line (model calls' figures as fields), for log shippers.
    log_format: Literal["text", "json"] = Field("text", validation_alias=_env("DIRECTOR_LOG_FORMAT"))

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

    @field_validator("message_queue", mode="before")
    @classmethod
    def _check_queue(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip()
            if not value:
                return None
            if value.split("://", 1)[0].lower() not in MESSAGE_QUEUE_SCHEMES or "://" not in value:
                # The value is not quoted: it may hold a password.
                raise ValueError("not a redis://, rediss:// or unix:// URL")
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
    def message_queue_url(self) -> str | None:
        return self.message_queue.get_secret_value() if self.message_queue is not None else None

    @property
    def auth_required(self) -> bool:
        return self.auth_token is not None


def load_server_settings(**overrides: Any) -> ServerSettings:
    """Read the settings; a bad value raises a ``ConfigError`` that names the env variable.

    ``overrides`` go straight to pydantic-settings (tests pass ``_env_file=None`` and field values).
    """
    return ServerSettings(**overrides)
