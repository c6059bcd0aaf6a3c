"""Compaction on a real server over real sockets, through LiteLLM to the fake OpenAI provider with a small
LITELLM_MAX_INPUT_TOKENS, on SQLite and PostgreSQL: the summary is stored, reused on its own branch (also when
the branch's context is rebuilt, and after a restart) and never on another."""

from __future__ import annotations

from pathlib import Path

import pytest
from director.core.compaction import SUMMARY_PROMPT

from tests.fakes.providers import FakeOpenAI, RecordedRequest, Reply
from tests.fakes.server_process import start_server
from tests.integration.conftest import provider_env
from tests.integration.live_client import LiveClient, disconnect_all
from tests.integration.test_lose_nothing import BACKENDS, db_env, stored_conversation

pytestmark = pytest.mark.integration

SUMMARY = "SUMMARY: the user listed projects, starting with ALPHA."
FILLER = " ".join(["apple"] * 290)  # ~300 tokens a question
MAX_TURNS = 12


def is_summary_request(req: RecordedRequest) -> bool:
    return req.json["messages"][0].get("content") == SUMMARY_PROMPT


def text_of(req: RecordedRequest) -> str:
    return "\n".join(str(m.get("content")) for m in req.json["messages"])


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_long_chat_is_compacted_and_the_summary_is_reused_after_a_restart(
    backend: str, fake_openai: FakeOpenAI, servers, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    fake_openai.responder = lambda req: Reply(text=SUMMARY if is_summary_request(req) else "Noted.")
    env = provider_env(
        fake_openai, LITELLM_MAX_INPUT_TOKENS="2500", SQLITE_DB_PATH=str(tmp_path / "director.db")
    )
    env.update(db_env(backend, request))
    server = start_server(env)
    servers.append(server)
    client = LiveClient(server.url)
    try:
        session_id = None
        compacted_at = None
        answers: list[dict] = []
        for turn in range(1, MAX_TURNS + 1):
            fields = {"session_id": session_id} if session_id else {}
            final = client.ask(f"PROJECT-{turn:02d} {FILLER}", timeout=60, **fields)
            assert final["status"] == "success"
            answers.append(final)
            session_id = final["session_id"]
            if any("Summarized the" in action for action in final["actions"]):
                compacted_at = turn
                step = next(b for b in final["content"] if b["agent_name"] == "compaction")
                assert step["status"] == "success" and step["data"]["summary"] == SUMMARY
                # The summary call is listed in the answer's activity as compaction's own.
                assert [c["agent"] for c in final["calls"]] == ["compaction", None]
                break
        assert compacted_at is not None, "the chat never came near the window"
        summary_calls = [i for i, req in enumerate(fake_openai.requests) if is_summary_request(req)]
        assert len(summary_calls) == 1
        assert "PROJECT-01" in text_of(fake_openai.requests[summary_calls[0]])
        after = fake_openai.requests[summary_calls[0] + 1]
        assert SUMMARY in text_of(after) and "PROJECT-01" not in text_of(after)
        assert after.json["messages"][0]["role"] == "system"
        # The next turn reuses the summary: no new summary call.
        client.ask(f"PROJECT-NEXT {FILLER}", session_id=session_id, timeout=60)
        assert sum(is_summary_request(req) for req in fake_openai.requests) == 1
        assert SUMMARY in text_of(fake_openai.requests[-1])
        # Branches. Regenerating that answer rebuilds the branch's context from its turns: the stored
        # summary stands for the same first turns again, found by message id and digest, with no new call.
        last_answer = answers[-1]["msg_id"]
        client.ask(f"PROJECT-NEXT {FILLER}", session_id=session_id, parent_msg_id=last_answer, timeout=60)
        assert sum(is_summary_request(req) for req in fake_openai.requests) == 1
        regenerated = text_of(fake_openai.requests[-1])
        assert SUMMARY in regenerated and "PROJECT-01" not in regenerated
        # Editing the second question makes a branch that never held the summarized turns: no summary there.
        client.ask("PROJECT-02-EDITED", session_id=session_id, parent_msg_id=answers[0]["msg_id"], timeout=60)
        edited = text_of(fake_openai.requests[-1])
        assert SUMMARY not in edited and "PROJECT-01" in edited and "PROJECT-02 " not in edited
    finally:
        disconnect_all([client])
    server.stop()

    # After a restart, on the same database, back on the long branch: still the stored summary, never the
    # old turns again.
    server = start_server(env)
    servers.append(server)
    client = LiveClient(server.url)
    try:
        client.ask("PROJECT-AFTER-RESTART", session_id=session_id, parent_msg_id=last_answer, timeout=60)
    finally:
        disconnect_all([client])
    last = text_of(fake_openai.requests[-1])
    assert SUMMARY in last and "PROJECT-01" not in last and "PROJECT-AFTER-RESTART" in last
    assert sum(is_summary_request(req) for req in fake_openai.requests) == 1
    # What the user sees stays whole.
    texts = [b["text"] for m in stored_conversation(server, session_id) for b in m["content"]]
    assert any(text.startswith("PROJECT-01 ") for text in texts)
