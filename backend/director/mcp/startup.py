"""Starting the MCP hub for a server process. Light to import: the SDK is loaded only when a server is
configured, so a Director without MCP servers starts as fast as before."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from director.mcp.config import load_mcp_servers

if TYPE_CHECKING:
    from director.agents.base import BaseAgent
    from director.mcp.hub import MCPHub

AgentSource = Callable[[], "list[type[BaseAgent]]"]


def no_agents() -> list[type[BaseAgent]]:
    return []


def mcp_agents(hub: MCPHub | None, call_timeout_s: float) -> tuple[MCPHub | None, AgentSource]:
    """The hub (``hub`` if given, else one started from ``DIRECTOR_MCP_CONFIG``, or None when no server is
    configured) and the source of its tools' agent classes. Raises ``ConfigError`` for a bad file."""
    if hub is None:
        specs = load_mcp_servers()
        if not specs:
            return None, no_agents
        from director.mcp.hub import MCPHub

        hub = MCPHub(specs, call_timeout_s=call_timeout_s)
        hub.start()
    from director.mcp.agents import MCPAgentSource

    return hub, MCPAgentSource(hub)
