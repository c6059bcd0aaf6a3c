"""Everything a request handler needs, built once by ``create_app`` and stored on the app."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

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
    agent_names: frozenset[str] = field(init=False)
    catalog: ModelCatalog = field(init=False)  # GET /model; built on its first request

    def __post_init__(self) -> None:
        self.agent_names = frozenset(agent.name for agent in self.agent_classes)
        self.catalog = ModelCatalog(self.runner.llms)
