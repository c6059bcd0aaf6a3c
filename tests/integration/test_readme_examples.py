"""The README's Python examples, run as written against a real server and a fake provider.

Only the server URL is swapped in: a README example that no longer runs is a bug users meet first.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest

from tests.fakes.providers import FakeOpenAI, Reply
from tests.fakes.server_process import ServerProcess

README = Path(__file__).resolve().parents[2] / "README.md"


def python_example(containing: str) -> str:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)
    (block,) = [b for b in blocks if containing in b]
    return block


def test_socket_client_example(
    live_server: ServerProcess, fake: FakeOpenAI, capsys: pytest.CaptureFixture
) -> None:
    fake.script(
        Reply(tool_calls=[("pricing", {"models": ["anthropic/claude-sonnet-4-5"]})]),
        Reply(text="It costs $3 per million input tokens."),
    )
    code = python_example("socketio.Client()").replace("http://127.0.0.1:8000", live_server.url)
    failure: list[BaseException] = []

    def run() -> None:
        try:
            exec(compile(code, "README socket example", "exec"), {})
        except BaseException as exc:  # handed to the test thread
            failure.append(exc)

    runner = threading.Thread(target=run, daemon=True)
    runner.start()
    runner.join(30)
    assert not runner.is_alive(), "the example did not finish (it waits for the final message)"
    assert not failure, failure
    out = capsys.readouterr().out
    assert "It costs $3 per million input tokens." in out
    assert "[success] agents used: ['pricing']" in out


def test_llm_layer_example(fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LITELLM_CHAT_MODEL", "openai/gpt-4o")
    monkeypatch.setenv("LITELLM_API_BASE", fake_openai.api_base)
    monkeypatch.setenv("LITELLM_API_KEY", "sk-readme")
    fake_openai.script(Reply(tool_calls=[("add", {"a": 2, "b": 2})]), Reply(text="Once upon a time."))
    namespace: dict = {}
    exec(compile(python_example("get_default_llm()"), "README LLM example", "exec"), namespace)
    r = namespace["r"]
    assert r.status == "success" and r.model == "openai/gpt-4o"
    (call,) = r.tool_calls  # read the way the README (and Director code) reads it: as a dict
    assert (call["tool"]["name"], call["tool"]["arguments"], call["type"]) == (
        "add",
        {"a": 2, "b": 2},
        "function",
    )
    assert r.cost is not None and r.total_tokens > 0
    assert [t["function"]["name"] for t in fake_openai.requests[0].json["tools"]] == ["add"]
    assert fake_openai.requests[1].json["stream"] is True  # the streaming loop ran too


def test_adding_an_agent_example() -> None:
    namespace: dict = {}
    exec(compile(python_example("class EchoAgent"), "README agent example", "exec"), namespace)
    agent_class = namespace["EchoAgent"]
    tool = agent_class.to_llm_tool()
    assert tool["name"] == "echo" and tool["description"] == "Repeats a text back, shouted if asked."
    # The schema the model sees comes from run()'s type hints and docstring.
    properties = tool["parameters"]["properties"]
    assert properties["text"]["type"] == "string" and properties["text"]["description"] == "What to repeat."
    assert properties["shout"]["type"] == "boolean" and tool["parameters"]["required"] == ["text"]
    response = agent_class().call({"text": "hi", "shout": True})
    assert response.status == "success" and response.data == {"text": "HI"}
