"""Record and replay as a regression test: a recorded two-turn session (with a pricing call) replayed
through today's engine must make the same model requests."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from director.agents import AGENTS
from director.core import prompts
from director.core.replay_session import replay, split_turns
from director.llm.recording import read_recording

RECORDING = Path(__file__).parent / "recordings" / "pricing_two_turns.jsonl"


def test_the_recording_holds_two_turns_and_a_tool_call() -> None:
    records = read_recording(RECORDING)
    turns = split_turns(records)
    assert [t.question for t in turns] == ["How much does gpt-4o-mini cost?", "Is it cheaper than gpt-4o?"]
    assert records[0]["response"]["tool_calls"][0]["tool"]["name"] == "pricing"


@pytest.mark.parametrize("replay_agents", [True, False], ids=["recorded-agents", "real-agents"])
def test_the_engine_still_makes_the_recorded_requests(replay_agents: bool) -> None:
    report = replay(RECORDING, replay_agents=replay_agents, agent_classes=list(AGENTS))
    assert [d.describe() for d in report.differences] == []
    assert report.matches and report.statuses == ["success", "success"]
    assert report.calls_made == report.calls_recorded == 3


def test_a_changed_system_prompt_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prompts, "_INTRO", "You are a different assistant.")
    report = replay(RECORDING, replay_agents=True)
    assert not report.matches
    assert {d.path for d in report.differences} == {"messages[0].content"}
    assert {d.call for d in report.differences} == {0, 1, 2}


def test_director_replay_exit_codes(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "director.cli", "replay"]
    same = subprocess.run(
        [*command, str(RECORDING), "--replay-agents"], capture_output=True, text=True, timeout=120
    )
    assert same.returncode == 0, same.stderr
    assert "matches the recording" in same.stderr and same.stdout == ""

    records = [json.loads(line) for line in RECORDING.read_text().splitlines()]
    records[2]["request"]["messages"][-1]["content"] = "Is it cheaper than gpt-4o? (edited)"
    records[2]["request"]["messages"][-1]["content"] = records[2]["request"]["messages"][-1]["content"]
    records[1]["response"]["content"] = records[1]["response"]["content"] + " Extra."
    edited = tmp_path / "edited.jsonl"
    edited.write_text("".join(json.dumps(r) + "\n" for r in records))
    differs = subprocess.run(
        [*command, str(edited), "--replay-agents"], capture_output=True, text=True, timeout=120
    )
    assert differs.returncode == 6
    assert "call 2: messages[" in differs.stdout and "Extra." in differs.stdout

    broken = tmp_path / "broken.jsonl"
    broken.write_text("not json\n")
    bad = subprocess.run([*command, str(broken)], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "line 1 is not JSON" in bad.stderr
