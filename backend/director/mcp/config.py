"""``DIRECTOR_MCP_CONFIG``: a JSON file in the ``{"mcpServers": {name: {...}}}`` format other MCP clients use.

A server is ``command``/``args``/``env`` (stdio) or ``url`` (+ ``headers``): streamable HTTP, or SSE when
``"type": "sse"``. Anything wrong with the file is one ``ConfigError`` naming the file and the problem.
Values in ``env`` and ``headers`` are registered as secrets, so no log line shows them.
"""

from __future__ import annotations

import json
import re
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_settings import SettingsConfigDict

from director.errors import ConfigError
from director.llm.redact import register_secret
from director.settings import DirectorSettings

VARIABLE = "DIRECTOR_MCP_CONFIG"
# Server names become part of agent names, which providers restrict to [A-Za-z0-9_-].
_SERVER_NAME = re.compile(r"[A-Za-z0-9_-]{1,32}")


class MCPSettings(DirectorSettings):
    model_config = SettingsConfigDict(env_prefix="DIRECTOR_")

    mcp_config: Path | None = Field(None, description="the path of a JSON file with an mcpServers object")


class Transport(StrEnum):
    STDIO = "stdio"
    STREAMABLE_HTTP = "streamable_http"
    SSE = "sse"


class MCPServerSpec(BaseModel):
    # Other clients' files carry keys of their own (disabled, autoApprove, ...): ignore those.
    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str
    type: str | None = None
    command: str | None = None
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    cwd: str | None = None
    url: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_transport(self) -> MCPServerSpec:
        if bool(self.command) == bool(self.url):
            raise ValueError("needs either 'command' (stdio) or 'url' (HTTP), not both or neither")
        if self.url and not re.match(r"^https?://", self.url):
            raise ValueError(f"'url' must start with http:// or https://; got {self.url[:80]!r}")
        return self

    @property
    def transport(self) -> Transport:
        if self.command:
            return Transport.STDIO
        return Transport.SSE if (self.type or "").lower() == "sse" else Transport.STREAMABLE_HTTP


def load_mcp_servers(path: Path | None = None) -> list[MCPServerSpec]:
    """The servers of ``DIRECTOR_MCP_CONFIG`` (none when unset). Raises ``ConfigError``."""
    if path is None:
        path = MCPSettings().mcp_config
    if path is None:
        return []

    def problem(text: str) -> ConfigError:
        return ConfigError(
            VARIABLE, "a JSON file with an mcpServers object", f"{VARIABLE} file {path}: {text}"
        )

    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise problem(f"cannot be read ({exc.strerror or exc})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise problem(f"is not valid JSON ({exc})") from None
    servers = raw.get("mcpServers") if isinstance(raw, dict) else None
    if not isinstance(servers, dict):
        raise problem('must be a JSON object with an "mcpServers" object')
    specs = []
    for name, entry in servers.items():
        if not _SERVER_NAME.fullmatch(name):
            raise problem(f"server name {name[:40]!r} must be 1-32 letters, digits, '_' or '-'")
        if not isinstance(entry, dict):
            raise problem(f"server {name!r} must be a JSON object")
        try:
            spec = MCPServerSpec.model_validate({**entry, "name": name})
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            where = ".".join(str(part) for part in first["loc"])
            reason = first["msg"].removeprefix("Value error, ")
            raise problem(f"server {name!r}: {where + ': ' if where else ''}{reason}") from None
        for secret in (*spec.env.values(), *spec.headers.values()):
            register_secret(secret)
            register_secret(secret.split()[-1] if secret.split() else secret)  # "Bearer <token>"'s token
        specs.append(spec)
    return specs
