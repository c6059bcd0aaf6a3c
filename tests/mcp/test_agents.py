"""MCP tools as agents: provider-safe names, the tool's own schema, argument checks, results."""

from __future__ import annotations

import pytest
from director.agents.base import AgentStatus
from director.errors import InvalidToolArgumentsError
from director.mcp.agents import agent_name, build_tool_agent
from director.mcp.hub import MCPHub
from director.mcp.results import convert_result
from mcp import types

SCHEMA = {
    "type": "object",
    "properties": {
        "path": {"type": "string", "description": "Where"},
        "depth": {"type": "integer", "minimum": 0},
    },
    "required": ["path"],
}


def tool(name: str = "read_file", schema: dict | None = None) -> types.Tool:
    return types.Tool(name=name, description="Reads a file.", input_schema=schema or SCHEMA)


def test_names_are_server_double_underscore_tool_and_providers_accept_them() -> None:
    assert agent_name("files", "read_file") == "files__read_file"
    assert agent_name("gh", "repos.list/all") == "gh__repos_list_all"
    long_one = agent_name("server", "t" * 100)
    assert len(long_one) == 64 and long_one != agent_name("server", "t" * 99)


def test_the_model_sees_the_tools_own_schema_and_its_server() -> None:
    agent_cls = build_tool_agent(MCPHub([]), "files", tool())
    llm_tool = agent_cls.to_llm_tool()
    assert llm_tool["name"] == "files__read_file"
    assert llm_tool["parameters"] == SCHEMA
    assert "Reads a file." in llm_tool["description"] and "files" in llm_tool["description"]
    assert agent_cls.server == "files"


def test_arguments_are_checked_against_the_schema_before_the_call() -> None:
    agent = build_tool_agent(MCPHub([]), "files", tool())()
    assert agent.validate_arguments({"path": "/a", "depth": 2}) == {"path": "/a", "depth": 2}
    with pytest.raises(InvalidToolArgumentsError) as caught:
        agent.validate_arguments({"depth": -1})
    messages = " ".join(error["msg"] for error in caught.value.errors)
    assert "'path' is a required property" in messages and "minimum" in messages
    with pytest.raises(InvalidToolArgumentsError, match="not a JSON object"):
        agent.validate_arguments({}, raw_arguments="{oops")


def test_a_down_server_is_a_failed_step_with_a_clear_reason() -> None:
    from director.mcp.config import MCPServerSpec
    from director.mcp.hub import ServerStatus

    hub = MCPHub([MCPServerSpec(name="files", command="x")])
    hub.links["files"].status = ServerStatus.DOWN
    hub.links["files"].last_error = "FileNotFoundError"
    hub._thread.start()
    try:
        response = build_tool_agent(hub, "files", tool())().call({"path": "/a"})
    finally:
        hub.close()
    assert response.status == AgentStatus.ERROR
    assert "MCP server 'files' is down (FileNotFoundError)" in response.message


def test_structured_content_and_resource_links_reach_step_and_model() -> None:
    result = types.CallToolResult(
        content=[
            types.TextContent(type="text", text="2 files"),
            types.ResourceLink(type="resource_link", uri="file:///a.txt", name="a.txt"),
        ],
        structured_content={"count": 2},
    )
    response = convert_result("files", "list", result)
    assert response.status == AgentStatus.SUCCESS and response.message == "2 files"
    assert response.data["structured"] == {"count": 2}
    assert response.data["content"][1] == {
        "type": "resource_link",
        "uri": "file:///a.txt",
        "name": "a.txt",
        "description": None,
        "mime_type": None,
    }
    assert "file:///a.txt" in response.to_tool_result()
