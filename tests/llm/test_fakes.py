"""The fake provider servers themselves: concurrency, scripting, error shapes, request recording."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.fakes.providers import FakeAnthropic, FakeOllama, FakeOpenAI, RecordedRequest, Reply

pytestmark = pytest.mark.integration

BODY = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


def test_100_concurrent_requests_are_served_in_parallel(fake_openai: FakeOpenAI) -> None:
    # Every request must be inside the server at the same time for the barrier to open: a server
    # that handled them one by one would break the barrier (BrokenBarrierError -> HTTP failure).
    n = 100
    barrier = threading.Barrier(n, timeout=20)

    def responder(req: RecordedRequest) -> Reply:
        barrier.wait()
        return Reply(text=req.json["messages"][0]["content"])

    fake_openai.responder = responder
    fake_openai.latency = 0.2
    with httpx.Client(timeout=30, limits=httpx.Limits(max_connections=n)) as client:

        def call(i: int) -> str:
            body = {**BODY, "messages": [{"role": "user", "content": f"q{i}"}]}
            r = client.post(fake_openai.api_base + "/chat/completions", json=body)
            r.raise_for_status()
            return r.json()["choices"][0]["message"]["content"]

        with ThreadPoolExecutor(n) as pool:
            answers = list(pool.map(call, range(n)))
    assert answers == [f"q{i}" for i in range(n)]
    assert len(fake_openai.requests) == n


def test_script_is_fifo_then_responder_then_default(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(Reply(text="one"), Reply(text="two"))
    url = fake_openai.api_base + "/chat/completions"
    texts = [httpx.post(url, json=BODY).json()["choices"][0]["message"]["content"] for _ in range(3)]
    assert texts == ["one", "two", "ok"]
    fake_openai.responder = lambda req: Reply(text="from responder")
    assert httpx.post(url, json=BODY).json()["choices"][0]["message"]["content"] == "from responder"
    fake_openai.reset()
    assert fake_openai.requests == [] and fake_openai.responder is None


def test_error_shapes_and_headers() -> None:
    with FakeOpenAI() as oa, FakeAnthropic() as an, FakeOllama() as ol:
        oa.script(Reply(status=429, headers={"Retry-After": "3"}))
        r = httpx.post(oa.url + "/v1/chat/completions", json=BODY)
        assert r.status_code == 429 and r.headers["retry-after"] == "3"
        assert r.json()["error"]["code"] == "rate_limit_exceeded"
        an.script(Reply(status=401))
        r = httpx.post(an.url + "/v1/messages", json=BODY)
        assert r.status_code == 401 and r.json()["error"]["type"] == "authentication_error"
        ol.script(Reply(status=500, body={"error": "custom"}))
        r = httpx.post(ol.url + "/api/chat", json={**BODY, "stream": False})
        assert r.status_code == 500 and r.json() == {"error": "custom"}


def test_records_method_path_headers_and_json(fake_anthropic: FakeAnthropic) -> None:
    httpx.post(fake_anthropic.url + "/v1/messages", json=BODY, headers={"X-Api-Key": "k1"})
    [req] = fake_anthropic.requests
    assert (req.method, req.path, req.headers["x-api-key"], req.json) == ("POST", "/v1/messages", "k1", BODY)


def test_openai_stream_has_tool_fragments_and_usage_chunk(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(Reply(text="a b", tool_calls=[("f", {"x": 1})]))
    body = {**BODY, "stream": True, "stream_options": {"include_usage": True}}
    lines = httpx.post(fake_openai.api_base + "/chat/completions", json=body).text.split("\n\n")
    events = [json.loads(line[6:]) for line in lines if line.startswith("data: {")]
    assert lines[-2] == "data: [DONE]"
    args = "".join(
        tc["function"].get("arguments", "")
        for e in events
        for c in e["choices"]
        for tc in c["delta"].get("tool_calls", [])
    )
    assert json.loads(args) == {"x": 1}
    assert events[-1]["usage"]["total_tokens"] == 15 and events[-1]["choices"] == []


def test_ollama_metadata_routes_do_not_consume_the_script(fake_ollama: FakeOllama) -> None:
    fake_ollama.script(Reply(text="scripted"))
    assert httpx.post(fake_ollama.url + "/api/show", json={"name": "m"}).status_code == 200
    lines = (
        httpx.post(fake_ollama.url + "/api/chat", json=BODY).text.strip().split("\n")
    )  # streams by default
    assert "".join(json.loads(line)["message"]["content"] for line in lines) == "scripted"
    assert json.loads(lines[-1])["done"] is True
    assert [r.path for r in fake_ollama.requests] == ["/api/chat"]
