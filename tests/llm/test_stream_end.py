"""Where the adapter stops reading a LiteLLM stream, with ``litellm.completion`` patched.

Once the finish reason and then the usage have arrived, nothing else the adapter needs can follow,
so it stops pulling chunks (LiteLLM's remaining end-of-stream work is skipped) and closes the stream.
Until then it must read on: usage that arrives early (some providers send it on every chunk) must
never cut the answer short.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from director.llm.base import LLMResponse, TextDelta
from director.llm.config import LiteLLMConfig
from director.llm.conversion import StreamAccumulator
from director.llm.litellm import LiteLLM, ensure_litellm

USAGE = {"prompt_tokens": 8, "completion_tokens": 2, "total_tokens": 10}


def _text(piece: str, finish: str | None = None, usage: dict[str, int] | None = None) -> dict[str, Any]:
    return {"choices": [{"delta": {"content": piece}, "finish_reason": finish}], "usage": usage}


class RecordingStream:
    """A stand-in for LiteLLM's stream wrapper that records how far it was read and whether it closed."""

    def __init__(self, chunks: list[dict[str, Any]]):
        self._chunks = chunks
        self.pulled = 0
        self.closed = False

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for chunk in self._chunks:
            self.pulled += 1
            yield chunk

    def close(self) -> None:
        self.closed = True


def _run(monkeypatch: pytest.MonkeyPatch, chunks: list[dict[str, Any]]) -> tuple[RecordingStream, list[Any]]:
    stream = RecordingStream(chunks)
    monkeypatch.setattr(ensure_litellm(), "completion", lambda **kwargs: stream)
    llm = LiteLLM(
        LiteLLMConfig(_env_file=None, chat_model="openai/fake-model", api_key="sk-test", num_retries=0)
    )
    events = list(llm.chat_completions_stream([{"role": "user", "content": "hi"}]))
    assert isinstance(events[-1], LLMResponse)
    return stream, events


def test_stops_reading_after_the_usage_that_follows_the_finish(monkeypatch: pytest.MonkeyPatch) -> None:
    after_usage = [_text("never read"), _text("nor this")]
    chunks = [_text("Hel"), _text("lo", finish="stop"), {"choices": [], "usage": USAGE}, *after_usage]
    stream, events = _run(monkeypatch, chunks)
    assert stream.pulled == 3 and stream.closed
    final = events[-1]
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["Hel", "lo"]
    assert (final.content, final.finish_reason, final.total_tokens) == ("Hello", "stop", 10)


def test_usage_on_every_chunk_does_not_cut_the_answer_short(monkeypatch: pytest.MonkeyPatch) -> None:
    early = {"prompt_tokens": 8, "completion_tokens": 1, "total_tokens": 9}
    chunks = [_text("Hel", usage=early), _text("lo", usage=early), _text("!", finish="stop", usage=USAGE)]
    stream, events = _run(monkeypatch, chunks)
    assert stream.pulled == 3
    assert (events[-1].content, events[-1].total_tokens) == ("Hello!", 10)


def test_a_stream_without_usage_is_read_to_its_end(monkeypatch: pytest.MonkeyPatch) -> None:
    chunks = [_text("Hi", finish="stop"), {"choices": []}, _text("")]
    stream, events = _run(monkeypatch, chunks)
    assert stream.pulled == 3 and stream.closed
    assert (events[-1].content, events[-1].total_tokens) == ("Hi", 0)


def test_accumulator_is_complete_only_after_finish_then_usage() -> None:
    acc = StreamAccumulator()
    acc.add(_text("a", usage=USAGE))
    assert not acc.complete  # usage before any finish reason: more may follow
    acc.add(_text("b", finish="stop"))
    assert not acc.complete  # finish without usage yet: the usage chunk comes next
    acc.add({"choices": [], "usage": USAGE})
    assert acc.complete


def test_finish_and_usage_on_one_chunk_complete_the_stream() -> None:
    acc = StreamAccumulator()
    acc.add(_text("all at once", finish="length", usage=USAGE))
    assert acc.complete and acc.result().finish_reason == "length"
