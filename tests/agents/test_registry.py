from __future__ import annotations

import json

from director.agents import AGENTS, agent_names, build_agents
from director.agents.base import BaseAgent


def test_registry_ships_the_four_agents_with_valid_tools() -> None:
    assert agent_names() == ["web_reader", "pricing", "compare_models", "summarize"]
    for agent_cls in AGENTS:
        tool = agent_cls.to_llm_tool()
        assert tool["name"] == agent_cls.name and tool["description"]
        assert tool["parameters"]["type"] == "object"
        for prop in tool["parameters"]["properties"].values():
            assert prop.get("description"), f"{agent_cls.name}: every parameter is documented"
        json.dumps(tool)


def test_build_agents_binds_the_llm() -> None:
    llm = object()
    agents = build_agents(llm)  # type: ignore[arg-type]
    assert all(isinstance(a, BaseAgent) and a.llm is llm for a in agents)
