"""The system prompt: who the assistant is and which agents it may call this turn."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from director.agents.base import BaseAgent

_INTRO = (
    "You are Director, a helpful assistant that can call agents (tools) to get things done. "
    "Call an agent when it helps answer the user; you may call several at once when they are independent. "
    "Agent results come back as JSON with a status and a message; if an agent reports an error, fix the "
    "arguments or explain the problem to the user instead of repeating the same call. "
    "When you have what you need, answer the user directly and concisely in Markdown."
)


def build_system_prompt(agents: Sequence[BaseAgent], requested: Sequence[str] = ()) -> str:
    lines = [_INTRO, f"Today is {date.today().isoformat()}."]
    if agents:
        lines.append("Available agents:")
        lines.extend(f"- {agent.name}: {agent.description}" for agent in agents)
    else:
        lines.append("No agents are available in this turn; answer from your own knowledge.")
    if requested:
        lines.append(f"The user asked to use: {', '.join(requested)}. Prefer these agents for this request.")
    return "\n".join(lines)
