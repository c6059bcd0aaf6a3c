"""DIRECTOR_RECORD_DIR on a real server writes each session's model exchanges (secrets removed), and a
server with DEFAULT_LLM=replay answers from such a file."""

from __future__ import annotations

from pathlib import Path

import pytest
from director.llm.recording import read_recording

from tests.fakes.providers import FakeOpenAI, Reply
from tests.fakes.server_process import start_server
from tests.integration.conftest import API_KEY, provider_env
from tests.integration.live_client import answer_text

pytestmark = pytest.mark.integration

TOKEN = "record-test-token-8c1d"


def test_a_server_records_each_session_and_another_replays_it(
    module_fake: FakeOpenAI, servers, tmp_path: Path, new_clients
) -> None:
    module_fake.reset()
    module_fake.script(
        Reply(tool_calls=[("pricing", {"models": ["gpt-4o-mini"]})]),
        Reply(text="About $0.15 per million input tokens."),
        Reply(text="Noted."),
    )
    recorder = start_server(
        provider_env(module_fake, DIRECTOR_RECORD_DIR=str(tmp_path), DIRECTOR_AUTH_TOKEN=TOKEN)
    )
    servers.append(recorder)
    client = new_clients(recorder.url, auth={"token": TOKEN})
    first = client.ask("What does gpt-4o-mini cost?")
    # A user pasting the server's token: it must not end up in the recording.
    second = client.ask(f"my token is {TOKEN}", session_id=first["session_id"])
    assert first["status"] == second["status"] == "success"

    [path] = list(tmp_path.iterdir())
    assert path.name == f"{first['session_id']}.jsonl"
    records = read_recording(path)
    assert len(records) == 3
    assert [e["text"] for e in records[1]["events"]] == [
        "About",
        " $0.15",
        " per",
        " million",
        " input",
        " tokens.",
    ]
    assert records[0]["response"]["tool_calls"][0]["tool"]["name"] == "pricing"
    text = path.read_text()
    assert TOKEN not in text and API_KEY not in text

    module_fake.reset()
    replayer = start_server({"DEFAULT_LLM": "replay", "DIRECTOR_REPLAY_FILE": str(path)})
    servers.append(replayer)
    client = new_clients(replayer.url)
    final = client.ask("What does gpt-4o-mini cost?")
    assert final["status"] == "success"
    assert answer_text(final) == "About $0.15 per million input tokens."
    assert [b["agent_name"] for b in final["content"]][0] == "pricing"
    assert module_fake.requests == []  # nothing went to a provider
