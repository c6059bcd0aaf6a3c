"""The agents registry. To add an agent: write ``agents/<name>.py`` with a ``BaseAgent`` subclass and
add one line to ``AGENTS`` below."""

from __future__ import annotations

from typing import TYPE_CHECKING

from director.agents.base import AgentResponse, AgentStatus, BaseAgent
from director.agents.compare_models import CompareModelsAgent
from director.agents.pricing import PricingAgent
from director.agents.summarize import SummarizeAgent
from director.agents.web_reader import WebReaderAgent

if TYPE_CHECKING:
    from director.llm.base import BaseLLM

AGENTS: list[type[BaseAgent]] = [
    WebReaderAgent,
    PricingAgent,
    CompareModelsAgent,
    SummarizeAgent,
]

__all__ = ["AGENTS", "AgentResponse", "AgentStatus", "BaseAgent", "agent_names", "build_agents"]


def agent_names() -> list[str]:
    return [agent.name for agent in AGENTS]


def build_agents(llm: BaseLLM | None) -> list[BaseAgent]:
    """One instance of every registered agent for a turn."""
    return [agent_cls(llm=llm) for agent_cls in AGENTS]
