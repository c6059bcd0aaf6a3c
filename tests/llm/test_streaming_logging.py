"""LiteLLM's streaming success logging is skipped only when no callback needs it, and skipping it
changes nothing Director reports: a streamed answer's tokens and cost stay exact (real LiteLLM over
real HTTP to the fake provider)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from director.llm.base import LLMResponse
from director.llm.litellm import ensure_litellm

from tests.fakes.litellm_callbacks import registered
from tests.fakes.providers import FakeOpenAI, Reply, make_litellm


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI()
    yield server
    server.close()


def streamed(fake: FakeOpenAI, model: str = "openai/gpt-4o") -> LLMResponse:
    llm = make_litellm(fake, model=model)
    events = list(llm.chat_completions_stream([{"role": "user", "content": "hi"}]))
    final = events[-1]
    assert isinstance(final, LLMResponse)
    return final


def test_without_callbacks_the_logging_is_skipped_and_usage_and_cost_stay_exact(fake):
    litellm = ensure_litellm()
    assert not litellm.callbacks and not [hook for hook in litellm.success_callback if hook != "cache"]
    fake.script(Reply(text="priced and streamed", prompt_tokens=1000, completion_tokens=500))
    response = streamed(fake)
    assert litellm.disable_streaming_logging is True
    assert response.ok and response.content == "priced and streamed"
    assert (response.send_tokens, response.recv_tokens) == (1000, 500)
    expected = sum(litellm.cost_per_token(model="openai/gpt-4o", prompt_tokens=1000, completion_tokens=500))
    assert response.cost == pytest.approx(expected, rel=1e-12)


class HandlerCalls:
    """Counts LiteLLM's end-of-stream success handler runs (it runs in LiteLLM's worker thread)."""

    def __init__(self) -> None:
        self.ran = threading.Event()

    def __call__(self, *args, **kwargs) -> None:
        self.ran.set()


@pytest.fixture
def handler(monkeypatch) -> HandlerCalls:
    from litellm.litellm_core_utils.litellm_logging import Logging

    calls = HandlerCalls()
    monkeypatch.setattr(Logging, "success_handler", calls)
    return calls


def test_without_a_reader_the_end_of_stream_handler_is_skipped_and_usage_and_cost_stay_exact(fake, handler):
    litellm = ensure_litellm()
    fake.script(Reply(text="no handler", prompt_tokens=1000, completion_tokens=500))
    response = streamed(fake)
    assert not handler.ran.wait(0.5), "LiteLLM's success handler ran although nothing reads it"
    assert (response.send_tokens, response.recv_tokens) == (1000, 500)
    expected = sum(litellm.cost_per_token(model="openai/gpt-4o", prompt_tokens=1000, completion_tokens=500))
    assert response.cost == pytest.approx(expected, rel=1e-12)


def test_the_end_of_stream_handler_runs_when_its_payload_is_printed(fake, handler, monkeypatch):
    monkeypatch.setenv("LITELLM_PRINT_STANDARD_LOGGING_PAYLOAD", "1")
    fake.script(Reply(text="printed", prompt_tokens=10, completion_tokens=5))
    response = streamed(fake)
    assert handler.ran.wait(10), "LiteLLM's success handler was skipped although its payload is printed"
    assert response.ok and (response.send_tokens, response.recv_tokens) == (10, 5)


def test_a_response_cache_counts_as_a_reader(monkeypatch):
    litellm = ensure_litellm()
    monkeypatch.setattr(litellm, "cache", object())  # only its presence is read before the call
    from director.llm import streaming_logging

    assert streaming_logging.success_handler_needed(litellm)
    monkeypatch.setattr(litellm, "cache", None)
    assert not streaming_logging.success_handler_needed(litellm)


def test_a_registered_callback_gets_the_logging_back(fake):
    litellm = ensure_litellm()
    from litellm.integrations.custom_logger import CustomLogger

    logged = threading.Event()

    class Recorder(CustomLogger):
        def log_success_event(self, kwargs, response_obj, start_time, end_time):
            logged.set()

    with registered(Recorder()):
        fake.script(Reply(text="logged", prompt_tokens=10, completion_tokens=5))
        response = streamed(fake)
        assert litellm.disable_streaming_logging is False
        assert response.ok and (response.send_tokens, response.recv_tokens) == (10, 5)
        assert logged.wait(10), "the registered callback never saw the streamed call"
    fake.script(Reply(text="quiet again"))
    streamed(fake)
    assert litellm.disable_streaming_logging is True


def test_litellms_own_cache_hook_without_a_cache_keeps_the_logging_skipped(fake, monkeypatch):
    # LiteLLM's Gemini path registers its "cache" hook at import although no cache is configured.
    litellm = ensure_litellm()
    monkeypatch.setattr(litellm, "success_callback", ["cache"])
    monkeypatch.setattr(litellm, "cache", None)
    fake.script(Reply(text="still skipped", prompt_tokens=10, completion_tokens=5))
    response = streamed(fake)
    assert litellm.disable_streaming_logging is True
    assert response.ok and (response.send_tokens, response.recv_tokens) == (10, 5)
