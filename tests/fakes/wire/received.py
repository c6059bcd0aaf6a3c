"""What a provider received, read back into one neutral shape, so one assertion fits every wire format.

Each wire format spells a conversation its own way (OpenAI's ``tool`` messages, Anthropic's
``tool_result`` blocks, Gemini's ``functionResponse`` parts, Bedrock's ``toolResult`` blocks...).
The readers here undo that: a list of ``Received`` entries, one per message, with every tool result
its own ``tool`` entry, in order.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.fakes.providers import RecordedRequest


@dataclass
class Received:
    role: str  # system | user | assistant | tool
    text: str = ""
    # (id, name, arguments); id is "" where the format has none (Gemini, Ollama)
    tool_calls: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    tool_call_id: str = ""  # for role "tool" ("" where the format has none); name for Gemini
    images: int = 0


def _args(value: Any) -> dict[str, Any]:
    """Arguments as sent: an object, or a JSON object string (never "": providers reject it on replay)."""
    if isinstance(value, dict):
        return value
    parsed = json.loads(value)
    assert isinstance(parsed, dict), f"tool-call arguments sent as {value!r}"
    return parsed


def loads_args(args: str) -> Any:
    """A fake's scripted arguments string as the object a format sends (verbatim if not JSON)."""
    try:
        return json.loads(args) if args else {}
    except ValueError:
        return args


def _openai_content(content: Any) -> tuple[str, int]:
    if isinstance(content, list):
        texts = [p.get("text", "") for p in content if p.get("type") == "text"]
        return "".join(texts), sum(1 for p in content if p.get("type") == "image_url")
    return content or "", 0


def read_openai(req: RecordedRequest) -> list[Received]:
    """OpenAI chat completions: also Azure, the LiteLLM proxy, vLLM and Mistral."""
    body = req.json
    out = []
    for m in body["messages"]:
        text, images = _openai_content(m.get("content"))
        if m["role"] == "tool":
            out.append(Received("tool", text, tool_call_id=m.get("tool_call_id", "")))
            continue
        calls = [
            (c.get("id", ""), c["function"]["name"], _args(c["function"].get("arguments")))
            for c in m.get("tool_calls") or []
        ]
        out.append(Received(m["role"], text, calls, images=images))
    return out


def read_anthropic(req: RecordedRequest) -> list[Received]:
    body = req.json
    out = []
    system = body.get("system")
    if system:
        text = system if isinstance(system, str) else "".join(b.get("text", "") for b in system)
        out.append(Received("system", text))
    for m in body["messages"]:
        blocks = m["content"] if isinstance(m["content"], list) else [{"type": "text", "text": m["content"]}]
        results = [b for b in blocks if b["type"] == "tool_result"]
        for b in results:
            content = b.get("content")
            if isinstance(content, list):
                content = "".join(p.get("text", "") for p in content)
            out.append(Received("tool", content or "", tool_call_id=b["tool_use_id"]))
        rest = [b for b in blocks if b["type"] != "tool_result"]
        if rest or not results:
            out.append(
                Received(
                    m["role"],
                    "".join(b.get("text", "") for b in rest if b["type"] == "text"),
                    [(b["id"], b["name"], _args(b.get("input"))) for b in rest if b["type"] == "tool_use"],
                    images=sum(1 for b in rest if b["type"] == "image"),
                )
            )
    return out


def read_ollama(req: RecordedRequest) -> list[Received]:
    body = req.json
    out = []
    for m in body["messages"]:
        if m["role"] == "tool":
            out.append(Received("tool", m.get("content") or ""))
            continue
        calls = [
            ("", c["function"]["name"], _args(c["function"].get("arguments")))
            for c in m.get("tool_calls") or []
        ]
        out.append(Received(m["role"], m.get("content") or "", calls, images=len(m.get("images") or [])))
    return out
