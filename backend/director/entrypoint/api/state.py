"""Everything a request handler needs, built once by ``create_app`` and stored on the app."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from director.agents.base import BaseAgent
from director.core.turn_runner import TurnRunner
from director.core.turns import TurnRegistry
from director.db.base import BaseDB
from director.entrypoint.api.admission import Admission
from director.entrypoint.api.health import ServerHealth
from director.entrypoint.api.security import OriginPolicy
from director.entrypoint.api.settings import ServerSettings
from director.llm.base import BaseLLM
from director.llm.catalog import ModelCatalog

if TYPE_CHECKING:
    from director.mcp.hub import MCPHub

EXTENSION_KEY = "director"


@dataclass
class ServerState:
    settings: ServerSettings
    llm: BaseLLM
    db: BaseDB
    agent_classes: list[type[BaseAgent]]
    registry: TurnRegistry
    runner: TurnRunner
    origins: OriginPolicy
    admission: Admission
    frontend_dir: Path
    health: ServerHealth
    # MCP servers' tools (DIRECTOR_MCP_CONFIG): their list changes while the server runs.
    mcp_hub: MCPHub | None = None
    extra_agents: Callable[[], list[type[BaseAgent]]] = field(default=lambda: [])

    def all_agent_classes(self) -> list[type[BaseAgent]]:
        return [*self.agent_classes, *self.extra_agents()]

    @property
    def agent_names(self) -> frozenset[str]:
        return frozenset(agent.name for agent in self.all_agent_classes())

    catalog: ModelCatalog = field(init=False)  # GET /model; built on its first request

    def __post_init__(self) -> None:
        self.catalog = ModelCatalog(self.runner.llms)
