"""summarize through real LiteLLM against the fake OpenAI server, and web pages from a local server."""

from __future__ import annotations

import pytest
from director.agents.summarize import SummarizeAgent

from tests.agents.conftest import PageServer
from tests.fakes.providers import FakeOpenAI, Reply, make_litellm


def test_summarizes_text_with_length_and_style(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(Reply(text="- Otters hold hands."))
    agent = SummarizeAgent(llm=make_litellm(fake_openai))
    response = agent.call(
        {"text": "Sea otters hold hands while sleeping.", "length": "short", "style": "bullets"}
    )

    assert response.status == "success"
    assert response.data["summary"] == "- Otters hold hands."
    assert response.message == "- Otters hold hands."
    messages = fake_openai.requests[0].json["messages"]
    assert "bullet" in messages[0]["content"] and "2-3 sentences" in messages[0]["content"]
    assert "Sea otters hold hands while sleeping." in messages[1]["content"]


def test_summarizes_a_url(
    fake_openai: FakeOpenAI, pages: PageServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIRECTOR_ALLOW_PRIVATE_URLS", "true")
    fake_openai.script(Reply(text="TL;DR: otters are warm."))
    agent = SummarizeAgent(llm=make_litellm(fake_openai))
    response = agent.call({"url": pages.base + "/article", "style": "tldr"})

    assert response.status == "success"
    assert response.data["source_title"] == "Otters of the North"
    sent = fake_openai.requests[0].json["messages"][1]["content"]
    assert "densest of any animal" in sent and "<p>" not in sent and "Example Footer" not in sent
    assert "TL;DR" in fake_openai.requests[0].json["messages"][0]["content"]


def test_refused_url_does_not_call_the_model(fake_openai: FakeOpenAI, pages: PageServer) -> None:
    response = SummarizeAgent(llm=make_litellm(fake_openai)).call({"url": pages.base + "/article"})
    assert response.status == "error" and "loopback" in response.message
    assert fake_openai.requests == []


def test_needs_exactly_one_source(fake_openai: FakeOpenAI) -> None:
    agent = SummarizeAgent(llm=make_litellm(fake_openai))
    assert agent.call({}).status == "error"
    assert agent.call({"text": "a", "url": "http://x"}).status == "error"
    assert fake_openai.requests == []


def test_llm_error_is_reported(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(Reply(status=401, body={"error": {"message": "bad key"}}))
    response = SummarizeAgent(llm=make_litellm(fake_openai, num_retries=0)).call({"text": "hello"})
    assert response.status == "error" and response.data["error_type"] == "auth"


def test_rejects_unknown_style() -> None:
    from director.errors import InvalidToolArgumentsError

    with pytest.raises(InvalidToolArgumentsError):
        SummarizeAgent().validate_arguments({"text": "x", "style": "haiku"})
