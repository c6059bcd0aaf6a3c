from __future__ import annotations

import json
from typing import Literal

import pytest
from director.agents.base import AgentResponse, AgentStatus, BaseAgent, parse_docstring
from director.errors import InvalidToolArgumentsError


class Sample(BaseAgent):
    name = "sample"
    description = "A sample agent."

    def run(
        self,
        url: str,
        title: str | None = None,
        length: Literal["short", "long"] = "short",
        limit: int = 3,
        tags: list[str] | None = None,
    ) -> AgentResponse:
        """Do the sample thing.

        Args:
            url: The page to read,
                over two lines.
            title (str): Title override.
            length: How long.
            limit: Max items.

        Returns:
            An AgentResponse.
        """
        self.report(f"reading {url}")
        return AgentResponse(message="ok", data={"url": url, "limit": limit, "tags": tags})


def test_schema_from_type_hints_and_docstring() -> None:
    tool = Sample.to_llm_tool()
    assert tool["name"] == "sample" and tool["description"] == "A sample agent."
    params = tool["parameters"]
    assert params["type"] == "object" and params["required"] == ["url"]
    props = params["properties"]
    assert props["url"] == {"type": "string", "description": "The page to read, over two lines."}
    # A property named "title" survives the stripping of pydantic's schema titles.
    assert props["title"]["description"] == "Title override."
    assert props["length"]["enum"] == ["short", "long"] and props["length"]["default"] == "short"
    assert props["limit"]["type"] == "integer"
    assert "description" not in props["tags"]
    assert "title" not in params and "title" not in props["url"]


def test_description_defaults_to_docstring_summary() -> None:
    class NoDesc(BaseAgent):
        name = "nodesc"

        def run(self, x: int) -> AgentResponse:
            """Adds one.

            Args:
                x: a number
            """
            return AgentResponse(message=str(x + 1))

    assert NoDesc.description == "Adds one."
    assert NoDesc.to_llm_tool()["parameters"]["properties"]["x"]["description"] == "a number"


def test_validation_errors_are_structured() -> None:
    with pytest.raises(InvalidToolArgumentsError) as info:
        Sample().validate_arguments({"limit": "x", "bogus": 1}, tool_call_id="t1")
    err = info.value
    assert err.tool_name == "sample" and err.tool_call_id == "t1"
    assert sorted(e["loc"][0] for e in err.errors) == ["bogus", "limit", "url"]
    json.dumps(err.errors)  # must be JSON-serialisable for the tool result


def test_malformed_arguments_raise() -> None:
    with pytest.raises(InvalidToolArgumentsError) as info:
        Sample().validate_arguments({}, raw_arguments="{not json")
    assert info.value.raw_arguments == "{not json"


def test_call_validates_coerces_and_reports() -> None:
    reports: list[str] = []
    response = Sample().call({"url": "http://x", "limit": "5"}, reporter=reports.append)
    assert response.status == AgentStatus.SUCCESS
    assert response.data == {"url": "http://x", "limit": 5, "tags": None}
    assert reports == ["reading http://x"]
    assert json.loads(response.to_tool_result()) == {
        "status": "success",
        "message": "ok",
        "data": response.data,
    }


def test_parse_docstring_sections() -> None:
    summary, args = parse_docstring(
        "Summary line.\n\nMore text.\n\nArgs:\n    a: first\n    b: second\n\nRaises:\n    X"
    )
    assert summary == "Summary line. More text."
    assert args == {"a": "first", "b": "second"}
