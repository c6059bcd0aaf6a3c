"""A session written out as Markdown or JSON: the one renderer behind ``GET /session/<id>/export``,
``director export`` and ``director show``.

Markdown is for reading (the question, each agent step and its result, the answer, what it cost);
JSON is the session and its whole conversation as stored, for tools.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from director.core.session import ASSISTANT

FORMAT_NAME = "director-session"
FORMAT_VERSION = 1


class ExportFormat(StrEnum):
    MARKDOWN = "md"
    JSON = "json"


MEDIA_TYPES = {ExportFormat.MARKDOWN: "text/markdown; charset=utf-8", ExportFormat.JSON: "application/json"}


def render(session: dict[str, Any], conversation: list[dict[str, Any]], fmt: ExportFormat) -> str:
    if fmt is ExportFormat.JSON:
        return render_json(session, conversation)
    return render_markdown(session, conversation)


def render_json(session: dict[str, Any], conversation: list[dict[str, Any]]) -> str:
    document = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "session": session,
        "conversation": conversation,
    }
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def render_markdown(session: dict[str, Any], conversation: list[dict[str, Any]]) -> str:
    title = session.get("title") or "Untitled chat"
    lines = [f"# {_one_line(title)}", ""]
    lines.append(
        f"Session `{session['session_id']}` · started {_when(session.get('created_at'))}"
        f" · last message {_when(session.get('updated_at'))}"
    )
    for message in conversation:
        lines.append("")
        if message.get("msg_type") == "input":
            lines += [f"## You · {_when(message.get('created_at'))}", "", _input_text(message)]
        else:
            lines += _output_lines(message)
    return "\n".join(lines).rstrip() + "\n"


def _output_lines(message: dict[str, Any]) -> list[str]:
    status = message.get("status", "")
    heading = f"## Assistant · {_when(message.get('created_at'))}"
    if status and status != "success":
        heading += f" · {status}"
    lines = [heading, ""]
    blocks = message.get("content", [])
    steps = [block for block in blocks if block.get("agent_name") != ASSISTANT]
    for step in steps:
        state = "done" if step.get("status") == "success" else step.get("status", "")
        summary = step.get("text") or step.get("status_message") or ""
        lines.append(
            f"- **{step.get('agent_name')}** ({state}){': ' + _one_line(summary) if summary else ''}"
        )
    if steps:
        lines.append("")
    answer = "".join(block.get("text") or "" for block in blocks if block.get("agent_name") == ASSISTANT)
    lines.append(answer or "_(no answer)_")
    if usage := _usage_line(message.get("usage")):
        lines += ["", usage]
    return lines


def _usage_line(usage: dict[str, Any] | None) -> str:
    if not usage or not usage.get("llm_calls"):
        return ""
    tokens = (usage.get("input_tokens") or 0) + (usage.get("output_tokens") or 0)
    cost = usage.get("cost_usd")
    price = f"${cost:.4f}" if isinstance(cost, int | float) else "price unknown"
    model = f"{usage['model']} · " if usage.get("model") else ""
    return f"_{model}{tokens} tokens · {price}_"


def _input_text(message: dict[str, Any]) -> str:
    return "\n".join(block.get("text") or "" for block in message.get("content", [])) or "_(empty)_"


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _when(timestamp: Any) -> str:
    if not isinstance(timestamp, int | float):
        return "unknown time"
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M UTC")
