"""RecordingLLM writes each exchange (streamed deltas included, secrets removed); ReplayLLM answers from it
and notes where the requests differ."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from director.errors import ConfigError
from director.llm import get_default_llm
from director.llm.base import LLMResponse, TextDelta
from director.llm.recording import RecordingLLM, read_recording, recording_path
from director.llm.redact import register_secret
from director.llm.replay import ReplayLLM, compare

from tests.fakes.scripted_llm import ScriptedLLM, ScriptedStream, text_response, tool_call, tool_response


def hello_stream() -> ScriptedStream:
    return ScriptedStream(
        [TextDelta(text="Hel"), TextDelta(text="lo"), LLMResponse(content="Hello", model="scripted")]
    )


TOOLS = [{"name": "echo", "description": "Echo.", "parameters": {"type": "object", "properties": {}}}]


def record(tmp_path: Path, *responses) -> tuple[Path, list]:
    path = recording_path(tmp_path, "sess:1")
    llm = RecordingLLM(ScriptedLLM(*responses), path, "sess:1")
    seen = [
        list(llm.chat_completions_stream([{"role": "user", "content": f"q{i}"}], tools=TOOLS))
        for i in range(len(responses))
    ]
    return path, seen


def test_each_call_is_one_line_with_request_deltas_and_response(tmp_path: Path) -> None:
    path, seen = record(tmp_path, hello_stream(), tool_response(tool_call("echo", {"text": "x"})))
    assert path.name == "sess_1.jsonl"
    first, second = read_recording(path)
    assert first["call"] == 0 and second["call"] == 1
    assert first["request"] == {"messages": [{"role": "user", "content": "q0"}], "tools": TOOLS}
    assert [e["text"] for e in first["events"]] == ["Hel", "lo"]
    assert first["response"]["content"] == "Hello"
    assert second["response"]["tool_calls"][0]["tool"]["name"] == "echo"
    # The caller saw exactly what the inner LLM streamed.
    assert [e.text for e in seen[0] if isinstance(e, TextDelta)] == ["Hel", "lo"]


def test_secrets_are_removed_from_the_recording(tmp_path: Path) -> None:
    register_secret("my-token-0123456789")
    path = recording_path(tmp_path, "s")
    llm = RecordingLLM(ScriptedLLM(text_response("ok")), path, "s")
    list(
        llm.chat_completions_stream(
            [{"role": "user", "content": "token my-token-0123456789 and sk-abcdef1234567890abcdef"}]
        )
    )
    text = path.read_text()
    assert "my-token-0123456789" not in text and "sk-abcdef1234567890abcdef" not in text
    assert json.loads(text)["request"]["messages"][0]["content"].startswith("token ")


def test_replay_answers_from_the_recording_and_reports_differences(tmp_path: Path) -> None:
    path, _ = record(tmp_path, hello_stream(), text_response("again"))
    replay = ReplayLLM.from_file(path)
    events = list(replay.chat_completions_stream([{"role": "user", "content": "q0"}], tools=TOOLS))
    assert [e.text for e in events[:-1]] == ["Hel", "lo"] and isinstance(events[-1], LLMResponse)
    assert replay.differences == []
    changed = list(replay.chat_completions_stream([{"role": "user", "content": "q1 CHANGED"}], tools=None))
    assert changed[-1].content == "again"
    assert [(d.path, d.recorded, d.now) for d in replay.differences] == [
        ("messages[0].content", "q1", "q1 CHANGED"),
        ("tools", TOOLS, None),
    ]
    past_the_end = list(replay.chat_completions_stream([{"role": "user", "content": "q2"}]))
    assert past_the_end[-1].status == "error" and "no answer for model call 2" in past_the_end[-1].content
    assert replay.differences[-1].path == "call"


def test_the_date_in_the_system_prompt_is_not_a_difference() -> None:
    recorded = {"messages": [{"role": "system", "content": "x\nToday is 2026-01-01.\ny"}]}
    assert (
        compare(recorded, {"messages": [{"role": "system", "content": "x\nToday is 2027-05-09.\ny"}]}, 0)
        == []
    )
    assert compare(recorded, {"messages": [{"role": "system", "content": "z\nToday is 2026-01-01.\ny"}]}, 0)


def test_default_llm_replay_reads_director_replay_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, _ = record(tmp_path, text_response("from the file"))
    monkeypatch.setenv("DEFAULT_LLM", "replay")
    with pytest.raises(ConfigError, match="DIRECTOR_REPLAY_FILE"):
        get_default_llm()
    monkeypatch.setenv("DIRECTOR_REPLAY_FILE", str(tmp_path / "missing.jsonl"))
    with pytest.raises(ConfigError, match="DIRECTOR_REPLAY_FILE"):
        get_default_llm()
    monkeypatch.setenv("DIRECTOR_REPLAY_FILE", str(path))
    llm = get_default_llm()
    assert (
        isinstance(llm, ReplayLLM)
        and llm.chat_completions([{"role": "user", "content": "q0"}]).content == "from the file"
    )
