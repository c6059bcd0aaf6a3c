"""MCP servers as agents, end to end: a real server process with DIRECTOR_MCP_CONFIG, real MCP servers
(stdio and streamable HTTP), real LiteLLM to the fake OpenAI server, and a real Socket.IO client."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from director.constants import REPO_ROOT

from tests.fakes.mcp_servers import running_http_server
from tests.fakes.providers import FakeOpenAI, Reply
from tests.fakes.server_process import ServerProcess, start_server
from tests.integration.conftest import provider_env

pytestmark = pytest.mark.integration

ENV_SECRET = "mcp-env-secret-7f3a9c"
HEADER_SECRET = "mcp-header-secret-41d2e8"
AGENT_TIMEOUT_S = 3


@pytest.fixture(scope="module")
def http_mcp() -> Iterator[str]:
    with running_http_server() as url:
        yield url


@pytest.fixture(scope="module")
def live_server(module_fake: FakeOpenAI, http_mcp: str, tmp_path_factory) -> Iterator[ServerProcess]:
    config = tmp_path_factory.mktemp("mcp") / "mcp.json"
    config.write_text(
        json.dumps(
            {
                "mcpServers": {
                    "fake": {
                        "command": sys.executable,
                        "args": ["-m", "tests.fakes.mcp_servers", "stdio"],
                        "cwd": str(REPO_ROOT),
                        "env": {"FAKE_SECRET": ENV_SECRET},
                    },
                    "remote": {"url": http_mcp, "headers": {"X-Test-Token": HEADER_SECRET}},
                    "broken": {
                        "command": "/nonexistent/mcp-server",
                        "env": {"TOKEN": "broken-secret-99887766"},
                    },
                }
            }
        )
    )
    env = provider_env(
        module_fake, DIRECTOR_MCP_CONFIG=str(config), DIRECTOR_AGENT_TIMEOUT=str(AGENT_TIMEOUT_S)
    )
    server = start_server(env)
    yield server
    server.cleanup()


def get_json(url: str) -> object:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def tool_results(fake: FakeOpenAI, request: int = 1) -> list[dict]:
    return [json.loads(m["content"]) for m in fake.requests[request].json["messages"] if m["role"] == "tool"]


def test_agent_list_names_each_tool_with_its_server(live_server: ServerProcess) -> None:
    agents = {agent["name"]: agent for agent in get_json(f"{live_server.url}/agent")}
    assert agents["fake__add"]["server"] == "fake"
    assert agents["remote__add"]["server"] == "remote"
    assert agents["pricing"]["server"] is None
    assert "Add two integers." in agents["fake__add"]["description"]


def test_config_check_shows_each_servers_state_and_tool_count(live_server: ServerProcess) -> None:
    servers = {s["name"]: s for s in get_json(f"{live_server.url}/config/check")["mcp_servers"]}
    assert servers["fake"]["state"] == "ready" and servers["fake"]["tools"] == 8
    assert servers["remote"]["state"] == "ready" and servers["remote"]["transport"] == "streamable_http"
    assert servers["broken"]["state"] == "down" and servers["broken"]["error"]
    text = json.dumps(servers)
    assert ENV_SECRET not in text and HEADER_SECRET not in text


def test_a_turn_calls_an_mcp_tool_with_its_schema_and_arguments(fake: FakeOpenAI, client) -> None:
    fake.script(Reply(tool_calls=[("fake__add", {"a": 2, "b": 3})]), Reply(text="It is 5."))
    final = client.ask("What is 2 + 3?")

    assert final["status"] == "success", final
    block = next(b for b in final["content"] if b["agent_name"] == "fake__add")
    assert block["status"] == "success" and block["text"] == "2 + 3 = 5"
    assert block["data"]["server"] == "fake" and block["data"]["structured"] == {"result": "2 + 3 = 5"}
    # The model saw the tool's own schema, and got the result back as the tool result.
    tools = {t["function"]["name"]: t["function"] for t in fake.requests[0].json["tools"]}
    assert tools["fake__add"]["parameters"]["required"] == ["a", "b"]
    assert tools["remote__pixel"]["parameters"]["type"] == "object"
    assert tool_results(fake)[0]["message"] == "2 + 3 = 5"


def test_an_mentioned_mcp_agent_limits_the_turn_to_it(fake: FakeOpenAI, client) -> None:
    fake.script(Reply(text="Only add."))
    final = client.ask("@remote__add hi", agents=["remote__add"])
    assert final["status"] == "success"
    assert [t["function"]["name"] for t in fake.requests[0].json["tools"]] == ["remote__add"]


def test_a_tool_error_and_a_down_server_are_failed_steps_and_the_turn_goes_on(
    fake: FakeOpenAI, client
) -> None:
    fake.script(
        Reply(tool_calls=[("remote__fail", {"reason": "no fuel"}), ("broken__anything", {})]),
        Reply(text="Both failed."),
    )
    final = client.ask("Try both")
    assert final["status"] == "success", final
    # broken's tools were never listed: the model's call to it is an unknown agent, answered to the model.
    failed = next(b for b in final["content"] if b["agent_name"] == "remote__fail")
    assert failed["status"] == "error" and "refused: no fuel" in failed["status_message"]
    results = tool_results(fake)
    assert results[0]["status"] == "error" and "refused: no fuel" in results[0]["message"]
    assert "broken__anything" in results[1]["message"]


def test_a_slow_tool_hits_the_agent_timeout(fake: FakeOpenAI, client) -> None:
    fake.script(Reply(tool_calls=[("fake__slow", {"seconds": 30})]), Reply(text="It was too slow."))
    final = client.ask("Be slow", timeout=AGENT_TIMEOUT_S + 30)
    assert final["status"] == "success", final
    block = next(b for b in final["content"] if b["agent_name"] == "fake__slow")
    assert (
        block["status"] == "error" and f"did not finish within {AGENT_TIMEOUT_S} s" in block["status_message"]
    )
    assert "did not finish" in tool_results(fake)[0]["message"]


def test_an_image_result_is_in_the_step_and_described_to_the_model(fake: FakeOpenAI, client) -> None:
    fake.script(Reply(tool_calls=[("remote__pixel", {})]), Reply(text="A red dot."))
    final = client.ask("Draw")
    block = next(b for b in final["content"] if b["agent_name"] == "remote__pixel")
    image = block["data"]["content"][0]
    assert block["status"] == "success" and image["type"] == "image" and image["data"]
    sent = tool_results(fake)[0]
    assert (
        "data" not in sent["data"]["content"][0] and "shown to the user" in sent["data"]["content"][0]["note"]
    )


def test_secrets_of_the_config_never_reach_the_log(live_server: ServerProcess) -> None:
    logs = live_server.logs()
    assert "MCP server broken is down" in logs
    for secret in (ENV_SECRET, HEADER_SECRET, "broken-secret-99887766"):
        assert secret not in logs


def test_a_bad_config_file_stops_startup_with_one_line(tmp_path: Path) -> None:
    config = tmp_path / "mcp.json"
    config.write_text('{"mcpServers": {"a": {"args": []}}}')
    server = ServerProcess({"DIRECTOR_MCP_CONFIG": str(config)}, 0)
    result = subprocess.run(
        [sys.executable, "-m", "director.entrypoint.api.server"],
        env=server.env,
        cwd=server.workdir,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if "DIRECTOR_MCP_CONFIG" in line]
    assert len(lines) == 1 and str(config) in lines[0] and "needs either 'command'" in lines[0]
