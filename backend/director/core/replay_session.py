"""Re-run a recorded session (``llm/recording.py``) through the engine with ``ReplayLLM``, and report where
the engine's requests now differ from the recorded ones: ``director replay FILE``.

Each recorded turn is asked again, in order, in a fresh session on a temporary SQLite database. The
agents run for real (those the turn offered, from ``agent_classes``), or, with ``replay_agents``, answer
with the tool results the recording holds (each one is in the request that followed its call).
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from director.agents.base import AgentResponse, AgentStatus, BaseAgent
from director.core.reasoning import ReasoningEngine
from director.core.session import Emit, Session
from director.llm.base import BaseLLM
from director.llm.recording import read_recording
from director.llm.replay import Difference, ReplayLLM

_REQUESTED = re.compile(
    r"^The user asked to use: (.+)\. Prefer these agents for this request\.$", re.MULTILINE
)


@dataclass
class RecordedTurn:
    question: str
    tools: list[dict[str, Any]]
    requested: list[str]


@dataclass
class ReplayReport:
    turns: int
    calls_recorded: int
    calls_made: int
    statuses: list[str] = field(default_factory=list)
    differences: list[Difference] = field(default_factory=list)

    @property
    def matches(self) -> bool:
        return not self.differences and self.calls_made == self.calls_recorded


def split_turns(records: list[dict[str, Any]]) -> list[RecordedTurn]:
    """A turn starts with a call whose last message is the user's, unless the call before it was the
    same turn's (it asked for tools, or the context window was full and the turn retried)."""
    turns: list[RecordedTurn] = []
    previous: dict[str, Any] | None = None
    for record in records:
        messages = record["request"]["messages"]
        continues = previous is not None and (
            previous["response"].get("tool_calls")
            or previous["response"].get("error_type") == "context_window"
        )
        if messages and messages[-1].get("role") == "user" and not continues:
            system = messages[0].get("content", "") if messages[0].get("role") == "system" else ""
            match = _REQUESTED.search(system or "")
            turns.append(
                RecordedTurn(
                    question=_text(messages[-1].get("content")),
                    tools=record["request"].get("tools") or [],
                    requested=match.group(1).split(", ") if match else [],
                )
            )
        previous = record
    return turns


def recorded_tool_results(records: list[dict[str, Any]]) -> dict[str, str]:
    """tool_call_id -> the tool result the model was sent, from every recorded request."""
    results: dict[str, str] = {}
    for record in records:
        for message in record["request"]["messages"]:
            if message.get("role") == "tool" and message.get("tool_call_id"):
                results[message["tool_call_id"]] = message.get("content") or ""
    return results


class _RecordedResult(AgentResponse):
    raw: str = ""

    def to_tool_result(self) -> str:
        return self.raw


def recorded_agents(tools: list[dict[str, Any]], results: dict[str, str]) -> list[BaseAgent]:
    """Agents with the recorded tools' names, descriptions and schemas, answering from ``results``."""

    class RecordedAgent(BaseAgent):
        schema: dict[str, Any] = {}

        def __init__(self) -> None:
            super().__init__(None)
            self._call_id: str | None = None

        @classmethod
        def parameters_schema(cls) -> dict[str, Any]:
            return dict(cls.schema)

        def validate_arguments(
            self, arguments: dict[str, Any], tool_call_id: str | None = None, raw_arguments: str | None = None
        ) -> dict[str, Any]:
            self._call_id = tool_call_id
            return arguments

        def call(
            self, arguments: dict[str, Any], reporter: Any = None, usage_sink: Any = None
        ) -> AgentResponse:
            raw = results.get(self._call_id or "")
            if raw is None:
                return AgentResponse(
                    status=AgentStatus.ERROR, message="The recording has no result for this call."
                )
            return _RecordedResult(message="Answered from the recording.", raw=raw)

    agents = []
    for tool in tools:
        cls = type(
            f"Recorded_{tool['name']}",
            (RecordedAgent,),
            {
                "name": tool["name"],
                "description": tool.get("description", ""),
                "schema": tool.get("parameters") or {},
            },
        )
        agents.append(cls())
    return agents


def replay(
    path: Path,
    replay_agents: bool = False,
    agent_classes: list[type[BaseAgent]] | None = None,
    agent_llm: BaseLLM | None = None,
    emit: Emit | None = None,
    on_turn: Callable[[int, str], None] | None = None,
) -> ReplayReport:
    from director.db.sqlite import SQLiteDB

    records = read_recording(path)
    llm = ReplayLLM(records, Path(path).name)
    turns = split_turns(records)
    results = recorded_tool_results(records)
    report = ReplayReport(turns=len(turns), calls_recorded=len(records), calls_made=0)
    with tempfile.TemporaryDirectory(prefix="director-replay-") as workdir:
        db = SQLiteDB(Path(workdir) / "replay.db")
        try:
            session = Session(db, None, emit)
            for number, turn in enumerate(turns, start=1):
                if on_turn is not None:
                    on_turn(number, turn.question)
                offered = {tool["name"] for tool in turn.tools}
                if replay_agents:
                    agents = recorded_agents(turn.tools, results)
                else:
                    agents = [cls(llm=agent_llm) for cls in agent_classes or [] if cls.name in offered]
                message = session.new_input_message(turn.question, agents=turn.requested)
                session.save_message(message.model_dump(mode="json"))
                output = ReasoningEngine(session, llm, agents).run(message, input_saved=True)
                report.statuses.append(output.status.value)
        finally:
            db.close()
    report.calls_made = llm.calls
    report.differences = llm.differences
    return report


def _text(content: Any) -> str:
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content or "")
