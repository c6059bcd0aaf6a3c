"""LiteLLM's per-call bookkeeping that Director's streamed calls skip while nothing reads it
(llm/unread_bookkeeping.py): the pricing of the new stream object and the empty service-timing event.

Real LiteLLM over real HTTP to the fake provider. Spies on ``litellm.response_cost_calculator`` (what
LiteLLM's ``Logging`` prices with) and on ``ServiceLogging._dispatch_from_sync`` (where the service event
goes to an event loop) show whether each piece ran; the answer Director reports must not change.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from director.llm import unread_bookkeeping
from director.llm.base import LLMResponse
from director.llm.litellm import ensure_litellm

from tests.fakes.litellm_callbacks import registered
from tests.fakes.providers import FAKE_API_KEY, FakeOpenAI, Reply, make_litellm

MODEL = "openai/gpt-4o-mini"  # priced in LiteLLM's map, so the reported cost is a number
MESSAGES = [{"role": "user", "content": "What is 2+2?"}]


class Spies:
    def __init__(self) -> None:
        self.streams_priced = 0
        self.service_events = 0


@pytest.fixture
def spies(monkeypatch: pytest.MonkeyPatch) -> Spies:
    litellm = ensure_litellm()
    from litellm._service_logger import ServiceLogging
    from litellm.litellm_core_utils.streaming_handler import CustomStreamWrapper

    found = Spies()
    price = litellm.response_cost_calculator

    def counting_price(**kwargs: Any) -> Any:
        if isinstance(kwargs.get("response_object"), CustomStreamWrapper):
            found.streams_priced += 1
        return price(**kwargs)

    # Where the service event is handed to an event loop (whichever the calling thread has, or a new one):
    # counted there, so the count does not depend on what loop an earlier test left on this thread.
    dispatch = ServiceLogging._dispatch_from_sync

    def counting_dispatch(hook: Any) -> None:
        found.service_events += 1
        dispatch(hook)

    monkeypatch.setattr(litellm, "response_cost_calculator", counting_price)
    monkeypatch.setattr(ServiceLogging, "_dispatch_from_sync", staticmethod(counting_dispatch))
    return found


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI()
    server.responder = lambda request: Reply(text="Four, as you know.")
    yield server
    server.close()


def ask(fake: FakeOpenAI) -> LLMResponse:
    llm = make_litellm(fake, model=MODEL, num_retries=0)
    return list(llm.chat_completions_stream(MESSAGES))[-1]  # type: ignore[return-value]


@contextmanager
def never_skipping(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The adapter as it was before this module: LiteLLM does all of its bookkeeping."""
    real = unread_bookkeeping.skipping
    monkeypatch.setattr(unread_bookkeeping, "skipping", lambda active: real(False))
    yield
    monkeypatch.setattr(unread_bookkeeping, "skipping", real)


def reported(response: LLMResponse) -> tuple[Any, ...]:
    return (response.status, response.content, response.send_tokens, response.recv_tokens, response.cost)


def test_directors_streamed_call_skips_both_and_reports_the_same_answer(
    fake: FakeOpenAI, spies: Spies, monkeypatch: pytest.MonkeyPatch
) -> None:
    skipped = ask(fake)
    assert (spies.streams_priced, spies.service_events) == (0, 0)

    with never_skipping(monkeypatch):
        full = ask(fake)
    assert (spies.streams_priced, spies.service_events) == (1, 1)  # the spies see them when they run

    assert skipped.ok and skipped.cost is not None and skipped.cost > 0
    assert reported(skipped) == reported(full)


def test_bare_litellm_in_the_same_process_keeps_both(fake: FakeOpenAI, spies: Spies) -> None:
    litellm = ensure_litellm()
    ask(fake)  # the wrappers are installed and a Director call has run in this process
    stream = litellm.completion(
        model=MODEL,
        api_base=fake.api_base,
        api_key=FAKE_API_KEY,
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
    )
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert text == "Four, as you know."
    assert (spies.streams_priced, spies.service_events) == (1, 1)


def test_a_registered_callback_or_service_callback_gets_its_work_back(
    fake: FakeOpenAI, spies: Spies, monkeypatch: pytest.MonkeyPatch
) -> None:
    from litellm.integrations.custom_logger import CustomLogger

    with registered(CustomLogger()):
        assert ask(fake).ok
    assert (spies.streams_priced, spies.service_events) == (1, 1)  # a success callback reads the price

    litellm = ensure_litellm()
    monkeypatch.setattr(litellm, "service_callback", ["a-service-logger"])
    assert ask(fake).ok
    # A service callback gets the timing event; the stream's price, which only success callbacks read,
    # is skipped again.
    assert (spies.streams_priced, spies.service_events) == (1, 2)


def test_install_wraps_once_and_the_skip_belongs_to_one_thread() -> None:
    litellm = ensure_litellm()
    from litellm.litellm_core_utils.litellm_logging import Logging

    wrapped = Logging.response_cost_calculator
    unread_bookkeeping.install(litellm)
    assert Logging.response_cost_calculator is wrapped

    seen: list[bool] = []
    inside, checked = threading.Event(), threading.Event()

    def other_thread() -> None:
        inside.wait(5)
        seen.append(unread_bookkeeping._SKIP.get())
        checked.set()

    thread = threading.Thread(target=other_thread)
    thread.start()
    with unread_bookkeeping.skipping(True):
        assert unread_bookkeeping._SKIP.get() is True
        inside.set()
        assert checked.wait(5)
    thread.join(5)
    assert seen == [False] and unread_bookkeeping._SKIP.get() is False
