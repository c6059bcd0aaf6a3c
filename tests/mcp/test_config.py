"""DIRECTOR_MCP_CONFIG: the common mcpServers format, one clear line for a bad file, secrets registered."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from director.errors import ConfigError
from director.llm.redact import scrub
from director.mcp.config import Transport, load_mcp_servers


def write(tmp_path: Path, content: object) -> Path:
    path = tmp_path / "mcp.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def test_unset_means_no_servers() -> None:
    assert load_mcp_servers() == []


def test_reads_stdio_http_and_sse_servers_from_the_env_variable(tmp_path: Path, monkeypatch) -> None:
    path = write(
        tmp_path,
        {
            "mcpServers": {
                "files": {"command": "npx", "args": ["-y", "server-filesystem", "/tmp"], "env": {"A": "b"}},
                "remote": {"url": "https://mcp.example.com/mcp", "headers": {"Authorization": "Bearer xyz"}},
                "legacy": {"type": "sse", "url": "http://127.0.0.1:9/sse", "disabled": False},
            }
        },
    )
    monkeypatch.setenv("DIRECTOR_MCP_CONFIG", str(path))
    specs = {spec.name: spec for spec in load_mcp_servers()}
    assert specs["files"].transport is Transport.STDIO and specs["files"].args[-1] == "/tmp"
    assert specs["remote"].transport is Transport.STREAMABLE_HTTP
    assert specs["legacy"].transport is Transport.SSE


def test_env_and_header_values_are_redacted_from_log_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        {
            "mcpServers": {
                "gh": {"command": "gh-mcp", "env": {"GITHUB_TOKEN": "ghp_abcdefghijklmnop1234"}},
                "remote": {
                    "url": "https://x.example/mcp",
                    "headers": {"Authorization": "Bearer tok-9876543210zyx"},
                },
            }
        },
    )
    load_mcp_servers(path)
    line = scrub("spawned with ghp_abcdefghijklmnop1234, sent tok-9876543210zyx")
    assert "ghp_abcdefghijklmnop1234" not in line and "tok-9876543210zyx" not in line


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{not json", "is not valid JSON"),
        ({"servers": {}}, '"mcpServers" object'),
        ({"mcpServers": {"bad name!": {"command": "x"}}}, "server name 'bad name!'"),
        ({"mcpServers": {"a": {"args": ["x"]}}}, "server 'a': needs either 'command'"),
        ({"mcpServers": {"a": {"command": "x", "url": "http://h/mcp"}}}, "not both"),
        ({"mcpServers": {"a": {"url": "ftp://h/mcp"}}}, "must start with http"),
        ({"mcpServers": {"a": {"command": "x", "args": "not-a-list"}}}, "server 'a': args"),
        ({"mcpServers": {"a": "npx server"}}, "must be a JSON object"),
    ],
)
def test_a_bad_file_is_one_line_naming_the_file_and_the_problem(
    tmp_path: Path, content: object, problem: str
) -> None:
    path = write(tmp_path, content)
    with pytest.raises(ConfigError) as caught:
        load_mcp_servers(path)
    message = caught.value.message
    assert message.startswith(f"DIRECTOR_MCP_CONFIG file {path}: ")
    assert problem in message
    assert "\n" not in message


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot be read"):
        load_mcp_servers(tmp_path / "nope.json")
