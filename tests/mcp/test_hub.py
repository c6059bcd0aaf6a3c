"""MCPHub against real MCP servers: stdio subprocesses and a streamable HTTP server on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

import pytest
from director.agents.base import AgentStatus
from director.mcp.agents import MCPAgentSource
from director.mcp.config import MCPServerSpec
from director.mcp.hub import MCPHub, MCPUnavailableError, ServerStatus
from director.mcp.results import convert_result

from tests.fakes.mcp_servers import RED_PIXEL_PNG
from tests.mcp.conftest import stdio_spec, wait_until

TOOLS = {"add", "fail", "slow", "pixel", "crash", "env_secret_length", "header_length", "grow"}


def started(hubs: list[MCPHub], *specs: MCPServerSpec, timeout_s: float = 30.0) -> MCPHub:
    hub = MCPHub(list(specs), call_timeout_s=timeout_s)
    hubs.append(hub)
    hub.start(wait_s=30.0)
    return hub


def text_of(result) -> str:
    return "\n".join(block.text for block in result.content if block.type == "text")


def test_stdio_server_lists_its_tools_and_runs_one_with_arguments(hubs: list[MCPHub]) -> None:
    hub = started(hubs, stdio_spec(FAKE_SECRET="s3cret-value-123"))
    link = hub.links["fake"]
    assert link.status == ServerStatus.READY
    assert set(link.tools) == TOOLS
    assert link.tools["add"].input_schema["required"] == ["a", "b"]
    assert text_of(hub.call_tool("fake", "add", {"a": 2, "b": 40})) == "2 + 40 = 42"
    # The config's env reaches the server process.
    assert text_of(hub.call_tool("fake", "env_secret_length", {})) == str(len("s3cret-value-123"))
    assert hub.describe() == [
        {
            "name": "fake",
            "transport": "stdio",
            "state": "ready",
            "tools": len(TOOLS),
            "restarts": 0,
            "error": None,
        }
    ]


def test_a_tool_error_is_an_error_result_with_the_servers_reason(hubs: list[MCPHub]) -> None:
    hub = started(hubs, stdio_spec())
    response = convert_result("fake", "fail", hub.call_tool("fake", "fail", {"reason": "no fuel"}))
    assert response.status == AgentStatus.ERROR
    assert "refused: no fuel" in response.message


def test_an_image_result_keeps_the_image_for_the_step_and_describes_it_to_the_model(
    hubs: list[MCPHub],
) -> None:
    hub = started(hubs, stdio_spec())
    response = convert_result("fake", "pixel", hub.call_tool("fake", "pixel", {}))
    [image] = response.data["content"]
    assert image["type"] == "image" and image["mime_type"] == "image/png"
    import base64

    assert base64.b64decode(image["data"]) == RED_PIXEL_PNG
    model_sees = response.to_tool_result()
    assert image["data"] not in model_sees  # no base64 in the model's context
    assert "image/png" in model_sees and "shown to the user" in model_sees


def test_a_slow_tool_times_out(hubs: list[MCPHub]) -> None:
    hub = started(hubs, stdio_spec(), timeout_s=1.0)
    with pytest.raises(TimeoutError):
        hub.call_tool("fake", "slow", {"seconds": 20})
    # The connection is still good afterwards.
    assert text_of(hub.call_tool("fake", "add", {"a": 1, "b": 1})) == "1 + 1 = 2"


def test_a_crashed_server_is_restarted_and_its_tools_work_again(hubs: list[MCPHub], tmp_path: Path) -> None:
    hub = started(hubs, stdio_spec(crash_flag=tmp_path / "crashed"))
    with pytest.raises(MCPUnavailableError, match="went away"):
        hub.call_tool("fake", "crash", {})
    link = hub.links["fake"]
    wait_until(lambda: link.restarts >= 1 and link.status == ServerStatus.READY)
    assert (tmp_path / "crashed").exists()
    assert text_of(hub.call_tool("fake", "add", {"a": 3, "b": 4})) == "3 + 4 = 7"
    assert set(link.tools) == TOOLS  # still listed, through the restart


def test_a_server_that_cannot_start_is_down_and_its_calls_say_so(hubs: list[MCPHub]) -> None:
    broken = MCPServerSpec(name="broken", command="/nonexistent/mcp-server")
    hub = started(hubs, broken, stdio_spec())
    assert hub.links["broken"].status == ServerStatus.DOWN
    assert hub.links["broken"].last_error
    assert hub.links["fake"].status == ServerStatus.READY  # one bad server does not hold up the others
    with pytest.raises(MCPUnavailableError, match="broken"):
        hub.call_tool("broken", "anything", {})


def test_tools_list_changed_refreshes_the_agents(hubs: list[MCPHub]) -> None:
    hub = started(hubs, stdio_spec())
    source = MCPAgentSource(hub)
    assert "fake__late" not in {agent.name for agent in source()}
    assert text_of(hub.call_tool("fake", "grow", {})) == "grown"
    wait_until(lambda: "fake__late" in {agent.name for agent in source()})


def test_streamable_http_server_runs_tools_with_the_configured_headers(
    hubs: list[MCPHub], http_server: str
) -> None:
    spec = MCPServerSpec(name="remote", url=http_server, headers={"X-Test-Token": "header-secret-42"})
    hub = started(hubs, spec)
    link = hub.links["remote"]
    assert link.status == ServerStatus.READY, link.last_error
    assert set(link.tools) == TOOLS
    assert text_of(hub.call_tool("remote", "add", {"a": 5, "b": 6})) == "5 + 6 = 11"
    assert text_of(hub.call_tool("remote", "header_length", {"name": "X-Test-Token"})) == str(
        len("header-secret-42")
    )
    response = convert_result("remote", "pixel", hub.call_tool("remote", "pixel", {}))
    assert response.data["content"][0]["type"] == "image"
    assert hub.describe()[0]["transport"] == "streamable_http"


def test_an_http_server_that_is_not_there_is_down(hubs: list[MCPHub]) -> None:
    from tests.fakes.server_process import free_port

    hub = started(hubs, MCPServerSpec(name="gone", url=f"http://127.0.0.1:{free_port()}/mcp"))
    assert hub.links["gone"].status == ServerStatus.DOWN
    with pytest.raises(MCPUnavailableError, match="gone"):
        hub.call_tool("gone", "add", {"a": 1, "b": 2})


def test_an_sse_only_server_works_with_type_sse(hubs: list[MCPHub]) -> None:
    from tests.fakes.mcp_servers import running_http_server

    with running_http_server("sse") as url:
        hub = started(hubs, MCPServerSpec(name="old", type="sse", url=url))
        link = hub.links["old"]
        assert link.status == ServerStatus.READY, link.last_error
        assert hub.describe()[0]["transport"] == "sse"
        assert text_of(hub.call_tool("old", "add", {"a": 20, "b": 22})) == "20 + 22 = 42"
        hub.close()
