"""Director <-> OpenAI shapes, both directions, and the one response converter."""

from __future__ import annotations

import json

import pytest
from director.llm.base import LLMResponseStatus, ToolCall, ToolFunction
from director.llm.conversion import (
    RawCompletion,
    RawToolCall,
    StreamAccumulator,
    encode_arguments,
    parse_arguments,
    raw_from_response,
    to_llm_response,
    to_openai_messages,
    to_openai_tools,
)


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"a": 1}, '{"a": 1}'),
        ({}, "{}"),
        (None, "{}"),
        ("", "{}"),
        ('{"x": [1]}', '{"x": [1]}'),
        ("{broken", "{}"),
        ("[1, 2]", "{}"),
    ],
)
def test_encode_arguments(arguments: object, expected: str) -> None:
    assert encode_arguments(arguments) == expected


@pytest.mark.parametrize(
    ("raw", "arguments", "raw_arguments"),
    [
        ('{"a": 1}', {"a": 1}, None),
        ("", {}, None),
        ("   ", {}, None),
        (None, {}, None),
        ({"already": "dict"}, {"already": "dict"}, None),
        ('{"a": 1', {}, '{"a": 1'),
        ("[1, 2]", {}, "[1, 2]"),
        ('"just a string"', {}, '"just a string"'),
    ],
)
def test_parse_arguments(raw: object, arguments: dict, raw_arguments: str | None) -> None:
    assert parse_arguments(raw) == (arguments, raw_arguments)


def test_messages_to_openai_including_tool_turns() -> None:
    call = ToolCall(id="call_1", tool=ToolFunction(name="pricing", arguments={"models": ["gpt-4o"]}))
    messages = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "price?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [call.model_dump(), {"id": "call_2", "tool": {"name": "noop", "arguments": {}}}],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": '{"price": 1}'},
        {"role": "tool", "tool_call_id": "call_2", "content": {"ok": True}},
        {"role": "assistant", "content": None},
    ]
    out = to_openai_messages(messages)
    assert out[0] == {"role": "system", "content": "be brief"}
    assert out[2] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "pricing", "arguments": '{"models": ["gpt-4o"]}'},
            },
            {"id": "call_2", "type": "function", "function": {"name": "noop", "arguments": "{}"}},
        ],
    }
    assert out[3] == {"role": "tool", "tool_call_id": "call_1", "content": '{"price": 1}'}
    assert json.loads(out[4]["content"]) == {"ok": True}
    assert out[5] == {"role": "assistant", "content": ""}


def test_tool_call_models_and_malformed_raw_are_replayable() -> None:
    bad = ToolCall(id="c", tool=ToolFunction(name="f", arguments={}, raw_arguments="{oops"))
    out = to_openai_messages([{"role": "assistant", "content": "x", "tool_calls": [bad]}])
    assert out[0]["tool_calls"][0]["function"]["arguments"] == "{}"
    assert out[0]["content"] == "x"


def test_tools_to_openai() -> None:
    tools = [
        {
            "name": "add",
            "description": "adds",
            "parameters": {"type": "object", "properties": {"a": {"type": "number"}}},
        },
        {"name": "ping"},
    ]
    out = to_openai_tools(tools)
    assert out[0] == {
        "type": "function",
        "function": {"name": "add", "description": "adds", "parameters": tools[0]["parameters"]},
    }
    assert out[1]["function"]["parameters"] == {"type": "object", "properties": {}}
    assert to_openai_tools(None) is None and to_openai_tools([]) is None


def test_raw_from_openai_dict_with_parallel_calls_and_no_usage() -> None:
    response = {
        "choices": [
            {
                "finish_reason": "tool_calls",
                "message": {
                    "content": None,
                    "tool_calls": [
                        {"id": "a", "function": {"name": "f", "arguments": '{"x": 1}'}},
                        {"id": "b", "function": {"name": "g", "arguments": ""}},
                        {"id": "c", "function": {"name": "h", "arguments": "{nope"}},
                    ],
                },
            }
        ],
        "usage": None,
    }
    r = to_llm_response(raw_from_response(response), "openai/x", None, 1.0)
    assert r.status == LLMResponseStatus.SUCCESS
    assert r.content == ""
    assert [(c.id, c.tool.name, c.tool.arguments) for c in r.tool_calls] == [
        ("a", "f", {"x": 1}),
        ("b", "g", {}),
        ("c", "h", {}),
    ]
    assert r.tool_calls[2].arguments_malformed and r.tool_calls[2].tool.raw_arguments == "{nope"
    assert not r.tool_calls[1].arguments_malformed
    assert (r.send_tokens, r.recv_tokens, r.total_tokens) == (0, 0, 0)
    assert r.finish_reason == "tool_calls" and r.model == "openai/x"


def test_total_tokens_derived_when_missing() -> None:
    response = {
        "choices": [{"message": {"content": "hi"}}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 4},
    }
    r = to_llm_response(raw_from_response(response), "m", 0.5, 2.0)
    assert (r.send_tokens, r.recv_tokens, r.total_tokens, r.cost) == (3, 4, 7, 0.5)


def test_missing_tool_call_id_gets_one() -> None:
    raw = RawCompletion(tool_calls=[RawToolCall(id=None, name="f", arguments="{}")])
    r = to_llm_response(raw, "m", None, 0.0)
    assert r.tool_calls[0].id.startswith("call_")


def test_stream_accumulator_matches_whole_response() -> None:
    chunks = [
        {"choices": [{"delta": {"role": "assistant", "content": "Hel"}}]},
        {"choices": [{"delta": {"content": "lo"}}]},
        {
            "choices": [
                {
                    "delta": {
                        "tool_calls": [{"index": 0, "id": "t0", "function": {"name": "f", "arguments": ""}}]
                    }
                }
            ]
        },
        {
            "choices": [
                {
                    "delta": {
                        "tool_calls": [
                            {"index": 1, "id": "t1", "function": {"name": "g", "arguments": '{"b"'}}
                        ]
                    }
                }
            ]
        },
        {"choices": [{"delta": {"tool_calls": [{"index": 0, "function": {"arguments": '{"a": '}}]}}]},
        {"choices": [{"delta": {"tool_calls": [{"index": 0, "function": {"arguments": "1}"}}]}}]},
        {"choices": [{"delta": {"tool_calls": [{"index": 1, "function": {"arguments": ": 2}"}}]}}]},
        {"choices": [{"delta": {}, "finish_reason": "tool_calls"}]},
        {"choices": [], "usage": {"prompt_tokens": 8, "completion_tokens": 2, "total_tokens": 10}},
    ]
    acc = StreamAccumulator()
    deltas = [acc.add(c) for c in chunks]
    assert "".join(text for text, _ in deltas) == "Hello"
    assert deltas[2][1] == [(0, "t0", "f", "")]
    assert deltas[4][1] == [(0, None, None, '{"a": ')]
    r = to_llm_response(acc.result(), "m", None, 0.0)
    assert r.content == "Hello"
    assert [(c.id, c.tool.name, c.tool.arguments) for c in r.tool_calls] == [
        ("t0", "f", {"a": 1}),
        ("t1", "g", {"b": 2}),
    ]
    assert (r.total_tokens, r.finish_reason) == (10, "tool_calls")


def test_tool_calls_read_as_director_dicts() -> None:
    call = ToolCall(id="c1", tool=ToolFunction(name="add", arguments={"a": 1}))
    assert (call["id"], call["type"], call["tool"]["name"], call["tool"]["arguments"]) == (
        "c1",
        "function",
        "add",
        {"a": 1},
    )
    assert call.get("missing") is None and call["tool"].get("raw_arguments") is None
    with pytest.raises(KeyError):
        call["__class__"]  # only declared fields, nothing else reachable through []
    assert call.model_dump(exclude={"tool": {"raw_arguments"}}) == {
        "id": "c1",
        "type": "function",
        "tool": {"name": "add", "arguments": {"a": 1}},
    }


def test_a_user_message_of_text_and_image_parts_is_sent_as_parts() -> None:
    parts = [
        {"type": "text", "text": "what is it?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}},
    ]
    [out] = to_openai_messages([{"role": "user", "content": parts}])
    assert out == {"role": "user", "content": parts}
    assert out["content"][0] is not parts[0]  # copied: the stored context is never aliased
    # Anything else that is not a string is still sent as its JSON text, never as unknown parts.
    odd = [{"type": "video", "url": "x"}]
    assert to_openai_messages([{"role": "user", "content": odd}])[0]["content"] == json.dumps(odd)
    assert to_openai_messages([{"role": "system", "content": parts}])[0]["content"] == json.dumps(parts)
