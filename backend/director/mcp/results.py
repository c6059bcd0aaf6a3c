"""An MCP tool result (``CallToolResult``) as an agent response: what the step shows and what the model reads.

The step's ``data`` keeps every content block: text, images (base64, shown as images by the UI),
audio, resource links and embedded resources, plus the structured content. The model gets the same
minus the binary payloads: a tool message is text for every provider, so an image is described there
("shown to the user") rather than sent.
"""

from __future__ import annotations

import json
from typing import Any

from mcp import types

from director.agents.base import AgentResponse, AgentStatus

# An image bigger than this is not kept in the step (it would be stored with the session).
MAX_IMAGE_BYTES = 2_000_000
SHOWN_IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})


class MCPToolResponse(AgentResponse):
    """An agent response whose tool result for the model leaves the binary payloads out."""

    def to_tool_result(self) -> str:
        data = {**self.data, "content": [_for_model(block) for block in self.data.get("content", [])]}
        payload = {"status": self.status.value, "message": self.message, "data": data}
        return json.dumps(payload, ensure_ascii=False, default=str)


def convert_result(server: str, tool: str, result: types.CallToolResult) -> MCPToolResponse:
    blocks = [_block(item) for item in result.content]
    texts = [block["text"] for block in blocks if block["type"] == "text" and block["text"]]
    others = [block for block in blocks if block["type"] != "text"]
    message = "\n".join(texts)
    if not message:
        message = ", ".join(_summary(block) for block in others) or "(no content)"
    data: dict[str, Any] = {"server": server, "tool": tool, "content": blocks}
    if result.structured_content is not None:
        data["structured"] = result.structured_content
    return MCPToolResponse(
        status=AgentStatus.ERROR if result.is_error else AgentStatus.SUCCESS, message=message, data=data
    )


def _block(item: Any) -> dict[str, Any]:
    if isinstance(item, types.TextContent):
        return {"type": "text", "text": item.text}
    if isinstance(item, types.ImageContent):
        size = len(item.data) * 3 // 4
        block: dict[str, Any] = {"type": "image", "mime_type": item.mime_type, "bytes": size}
        if item.mime_type in SHOWN_IMAGE_TYPES and size <= MAX_IMAGE_BYTES:
            block["data"] = item.data
        return block
    if isinstance(item, types.AudioContent):
        return {"type": "audio", "mime_type": item.mime_type, "bytes": len(item.data) * 3 // 4}
    if isinstance(item, types.ResourceLink):
        return {
            "type": "resource_link",
            "uri": str(item.uri),
            "name": item.name,
            "description": item.description,
            "mime_type": item.mime_type,
        }
    if isinstance(item, types.EmbeddedResource):
        resource = item.resource
        out: dict[str, Any] = {"type": "resource", "uri": str(resource.uri), "mime_type": resource.mime_type}
        if isinstance(resource, types.TextResourceContents):
            out["text"] = resource.text
        return out
    return {"type": getattr(item, "type", "unknown")}


def _for_model(block: dict[str, Any]) -> dict[str, Any]:
    if block["type"] in ("image", "audio"):
        return {
            "type": block["type"],
            "mime_type": block["mime_type"],
            "note": f"{_summary(block)}, shown to the user",
        }
    return block


def _summary(block: dict[str, Any]) -> str:
    if block["type"] in ("image", "audio"):
        return f"{block['type']} ({block['mime_type']}, {block['bytes']} bytes)"
    if block["type"] == "resource_link":
        return f"link to {block['uri']}"
    return block["type"]
