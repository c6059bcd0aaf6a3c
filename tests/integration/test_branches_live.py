"""Branches over real sockets, real LiteLLM and both databases: edit and regenerate with
``parent_msg_id``, switching with ``PUT /session/<id>/branch``, and the context the provider receives
(tool calls included) always being the viewed branch's. Pages of ``GET /session/<id>``, too."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.fakes.providers import FakeOpenAI, RecordedRequest, Reply
from tests.fakes.server_process import ServerProcess, start_server
from tests.integration.conftest import provider_env
from tests.integration.live_client import LiveClient, answer_text, disconnect_all
from tests.integration.test_lose_nothing import BACKENDS, db_env

pytestmark = pytest.mark.integration


def by_prompt(req: RecordedRequest) -> Reply:
    """ "price ..." calls the pricing agent first; everything else is answered at once."""
    messages = req.json["messages"]
    last = messages[-1]
    if last["role"] == "user" and last["content"].startswith("price"):
        return Reply(tool_calls=[("pricing", {"models": ["gpt-4o"]})])
    question = next(m["content"] for m in reversed(messages) if m["role"] == "user")
    return Reply(text=f"Answer to: {question}")


def http(server: ServerProcess, path: str, method: str = "GET", body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"{server.url}{path}", data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


# The first turn as the model sees it afterwards: the question, the tool call, its result, the answer.
FIRST_TURN = ["price of gpt-4o?", "call:pricing", "result", "Answer to: price of gpt-4o?"]


def seen_by_model(fake: FakeOpenAI) -> list[str]:
    """The last request's conversation, one short label per message (system prompt left out)."""
    labels = []
    for m in fake.requests[-1].json["messages"]:
        if m["role"] == "user" or (m["role"] == "assistant" and m.get("content")):
            labels.append(m["content"])
        elif m["role"] == "assistant":
            labels.append("call:" + m["tool_calls"][0]["function"]["name"])
        elif m["role"] == "tool":
            labels.append("result")
    return labels


@pytest.fixture(params=BACKENDS)
def server(request: pytest.FixtureRequest, fake_openai: FakeOpenAI) -> Iterator[ServerProcess]:
    fake_openai.responder = by_prompt
    started = start_server(provider_env(fake_openai, **db_env(request.param, request)))
    started.wait_until_warm()  # the first answer must not wait for LiteLLM's first import
    yield started
    started.cleanup()


@pytest.fixture
def client(server: ServerProcess) -> Iterator[LiveClient]:
    live = LiveClient(server.url)
    yield live
    disconnect_all([live])


def test_edit_regenerate_and_switch_over_a_real_server(
    server: ServerProcess, client: LiveClient, fake_openai: FakeOpenAI
) -> None:
    first = client.ask("price of gpt-4o?")
    session_id = first["session_id"]
    assert first["status"] == "success" and first["agents"] == ["pricing"]
    a1 = first["msg_id"]
    second = client.ask("q2", session_id=session_id)
    assert seen_by_model(fake_openai) == [*FIRST_TURN, "q2"]

    # Edit q2: a new branch from a1; the model sees none of the old q2.
    edited = client.ask("q2 edited", session_id=session_id, parent_msg_id=a1)
    assert answer_text(edited) == "Answer to: q2 edited"
    assert seen_by_model(fake_openai)[-2:] == ["Answer to: price of gpt-4o?", "q2 edited"]
    assert "q2" not in seen_by_model(fake_openai)

    # What a reload shows: the edited branch, with "< 2/2 >" on the edited message.
    status, page = http(server, f"/session/{session_id}")
    assert status == 200
    assert [answer_text(m) or m["content"][0]["text"] for m in page["conversation"]][2:] == [
        "q2 edited",
        "Answer to: q2 edited",
    ]
    edited_input = page["versions"][page["conversation"][2]["msg_id"]]
    assert edited_input["sibling_index"] == 1 and len(edited_input["siblings"]) == 2

    # "<": back to the first q2, stored, so it survives the reload; the model's context follows.
    original_q2 = edited_input["siblings"][0]
    assert http(server, f"/session/{session_id}/branch", "PUT", {"msg_id": original_q2})[0] == 200
    status, page = http(server, f"/session/{session_id}")
    assert page["conversation"][-1]["msg_id"] == second["msg_id"]
    client.ask("q3", session_id=session_id)  # no parent_msg_id: the viewed branch continues
    assert seen_by_model(fake_openai) == [*FIRST_TURN, "q2", "Answer to: q2", "q3"]

    # Regenerate the first answer: same question, same parent (the start), a new answer beside it.
    regenerated = client.ask("price of gpt-4o?", session_id=session_id, parent_msg_id=None)
    assert regenerated["status"] == "success"
    # (the last request is the step after the tool result: nothing of the other branches is in it)
    assert seen_by_model(fake_openai) == ["price of gpt-4o?", "call:pricing", "result"]
    status, page = http(server, f"/session/{session_id}")
    assert [m["msg_id"] for m in page["conversation"]][-1] == regenerated["msg_id"]
    assert page["versions"][page["conversation"][0]["msg_id"]]["sibling_index"] == 1


def test_a_parent_from_elsewhere_is_refused(server: ServerProcess, client: LiveClient) -> None:
    first = client.ask("hello")
    client.clear()
    client.emit("chat", {"session_id": first["session_id"], "content": "x", "parent_msg_id": "nope"})
    assert client.error()["code"] == "unknown_parent"
    status, page = http(server, f"/session/{first['session_id']}")
    assert len(page["conversation"]) == 2  # nothing stored


def test_pages_of_the_branch(server: ServerProcess, client: LiveClient) -> None:
    session_id = client.ask("m0")["session_id"]
    for n in range(1, 5):
        client.ask(f"m{n}", session_id=session_id)
    status, page = http(server, f"/session/{session_id}?limit=3")
    assert status == 200 and page["has_more"] and page["branch_length"] == 10
    texts = [m["content"][-1]["text"] for m in page["conversation"]]
    assert texts == ["Answer to: m3", "m4", "Answer to: m4"]
    status, older = http(server, f"/session/{session_id}?limit=3&before={page['next_before']}")
    assert [m["content"][-1]["text"] for m in older["conversation"]] == ["m2", "Answer to: m2", "m3"]
    assert http(server, f"/session/{session_id}?limit=0")[0] == 400
    assert http(server, f"/session/{session_id}?limit=3&before=unknown")[1]["code"] == "invalid_cursor"
