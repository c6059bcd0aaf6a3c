"""The hub's tools as agents: one ``BaseAgent`` class per MCP tool, named ``<server>__<tool>``.

Providers accept only ``[A-Za-z0-9_-]{1,64}`` as a tool name (OpenAI's rule, the strictest), so the
``<server>.<tool>`` of other clients is written with two underscores, other characters become ``_``,
and a name too long is cut with a short hash to keep it unique. The model sees the tool's own JSON
schema; arguments are checked against it (jsonschema) before the call, so mistakes go back to the
model like any agent's.
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING, Any, ClassVar

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from mcp import types

from director.agents.base import AgentResponse, AgentStatus, BaseAgent
from director.errors import InvalidToolArgumentsError
from director.mcp.hub import MCPHub, MCPUnavailableError
from director.mcp.results import convert_result

if TYPE_CHECKING:
    from director.llm.base import BaseLLM

SEPARATOR = "__"
MAX_NAME = 64
_NOT_ALLOWED = re.compile(r"[^A-Za-z0-9_-]")


def agent_name(server: str, tool: str) -> str:
    name = f"{server}{SEPARATOR}{_NOT_ALLOWED.sub('_', tool)}"
    if len(name) <= MAX_NAME:
        return name
    digest = hashlib.sha1(f"{server}/{tool}".encode()).hexdigest()[:8]
    return f"{name[: MAX_NAME - 9]}_{digest}"


class MCPToolAgent(BaseAgent):
    """Base of the generated classes; ``hub``, ``server``, ``tool`` and ``input_schema`` are set per class."""

    hub: ClassVar[MCPHub]
    server: ClassVar[str]
    tool: ClassVar[str]
    input_schema: ClassVar[dict[str, Any]]
    validator: ClassVar[Draft202012Validator | None]

    def __init__(self, llm: BaseLLM | None = None):
        super().__init__(llm)

    def run(self, **arguments: Any) -> AgentResponse:
        self.report(f"Calling {self.tool} on {self.server}")
        try:
            result = self.hub.call_tool(self.server, self.tool, arguments)
        except MCPUnavailableError as exc:
            return AgentResponse(
                status=AgentStatus.ERROR,
                message=f"{exc}. Its tools cannot be used right now; go on without them or tell the user.",
                data={"server": self.server, "tool": self.tool},
            )
        except TimeoutError:
            return AgentResponse(
                status=AgentStatus.ERROR,
                message=f"{self.tool} on MCP server '{self.server}' did not answer in time. Try a simpler request.",
                data={"server": self.server, "tool": self.tool},
            )
        return convert_result(self.server, self.tool, result)

    @classmethod
    def parameters_schema(cls) -> dict[str, Any]:
        schema = dict(cls.input_schema or {})
        schema.setdefault("type", "object")
        schema.setdefault("properties", {})
        return schema

    def validate_arguments(
        self, arguments: dict[str, Any], tool_call_id: str | None = None, raw_arguments: str | None = None
    ) -> dict[str, Any]:
        if raw_arguments is not None or not isinstance(arguments, dict):
            raise InvalidToolArgumentsError(
                "The arguments were not a JSON object. Send them as a JSON object matching the schema.",
                self.name,
                tool_call_id,
                raw_arguments=raw_arguments,
            )
        if self.validator is not None:
            errors = [
                {"loc": list(error.absolute_path), "msg": error.message[:300]}
                for error in self.validator.iter_errors(arguments)
            ]
            if errors:
                raise InvalidToolArgumentsError(
                    f"The arguments for {self.name} did not match its schema.",
                    self.name,
                    tool_call_id,
                    errors=errors,
                )
        return dict(arguments)


def build_tool_agent(hub: MCPHub, server: str, tool: types.Tool) -> type[MCPToolAgent]:
    schema = dict(tool.input_schema or {"type": "object"})
    try:
        Draft202012Validator.check_schema(schema)
        validator: Draft202012Validator | None = Draft202012Validator(schema)
    except SchemaError:
        validator = None  # the server checks its own arguments then; a bad schema must not hide the tool
    description = (tool.description or tool.title or tool.name).strip()
    return type(
        f"MCP_{agent_name(server, tool.name)}",
        (MCPToolAgent,),
        {
            "name": agent_name(server, tool.name),
            "description": f"{description} (MCP server {server})",
            "hub": hub,
            "server": server,
            "tool": tool.name,
            "input_schema": schema,
            "validator": validator,
        },
    )


class MCPAgentSource:
    """The current agent classes of a hub, rebuilt only when a server's tool list changed."""

    def __init__(self, hub: MCPHub):
        self.hub = hub
        self._version = -1
        self._classes: list[type[MCPToolAgent]] = []

    def __call__(self) -> list[type[BaseAgent]]:
        if self._version != self.hub.version:
            version = self.hub.version
            classes = [
                build_tool_agent(self.hub, link.spec.name, tool)
                for link in list(self.hub.links.values())
                for tool in list(link.tools.values())
            ]
            self._classes, self._version = classes, version
        return list(self._classes)
