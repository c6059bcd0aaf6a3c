"""``ReplayLLM``: answers from a recording (``llm/recording.py``) instead of a provider, and notes where
the requests the engine makes now differ from the recorded ones (a regression check for prompt or
engine changes). ``DEFAULT_LLM=replay`` with ``DIRECTOR_REPLAY_FILE`` makes it the server's LLM."""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from director.errors import ConfigError
from director.llm.base import (
    BaseLLM,
    BaseLLMConfig,
    LLMErrorType,
    LLMResponse,
    LLMResponseStatus,
    StreamEvent,
    TextDelta,
    ToolCallDelta,
)
from director.llm.recording import RecordSettings, read_recording

logger = logging.getLogger(__name__)

MAX_DIFFERENCES_PER_CALL = 10


@dataclass(frozen=True)
class Difference:
    call: int
    path: str  # e.g. "messages[0].content", "tools"
    recorded: Any
    now: Any

    def describe(self) -> str:
        return f"call {self.call}: {self.path}: recorded {_short(self.recorded)}, now {_short(self.now)}"


class ReplayLLM(BaseLLM):
    def __init__(self, records: list[dict[str, Any]], source: str = "recording"):
        super().__init__(BaseLLMConfig.model_construct(chat_model=f"replay:{source}"))
        self.records = records
        self.source = source
        self.differences: list[Difference] = []
        self.calls = 0
        self._lock = threading.Lock()

    @classmethod
    def from_file(cls, path: Path) -> ReplayLLM:
        return cls(read_recording(path), Path(path).name)

    @property
    def exhausted(self) -> bool:
        return self.calls >= len(self.records)

    def chat_completions(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None = None,
        stop: list[str] | None = None,
        response_format: dict[str, Any] | None = None,
    ) -> LLMResponse:
        events = list(self.chat_completions_stream(messages, tools))
        return events[-1]  # type: ignore[return-value]

    def chat_completions_stream(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None = None,
        stop: list[str] | None = None,
        response_format: dict[str, Any] | None = None,
    ) -> Iterator[StreamEvent]:
        with self._lock:
            index = self.calls
            self.calls += 1
        if index >= len(self.records):
            self.differences.append(Difference(index, "call", "no more calls", "one more call"))
            yield LLMResponse(
                status=LLMResponseStatus.ERROR,
                error_type=LLMErrorType.UNKNOWN,
                content=f"The recording {self.source} has no answer for model call {index}.",
            )
            return
        record = self.records[index]
        found = compare(record["request"], {"messages": messages, "tools": tools}, index)
        if found:
            self.differences.extend(found)
            logger.info("replay call %d differs from the recording: %s", index, found[0].describe())
        for event in record.get("events", []):
            yield TextDelta(**event) if event.get("type") == "text" else ToolCallDelta(**event)
        yield LLMResponse.model_validate(record["response"])


def compare(recorded: dict[str, Any], now: dict[str, Any], call: int) -> list[Difference]:
    """Where ``now`` differs from ``recorded`` (both as JSON), first differences first."""
    out: list[Difference] = []
    _diff(_as_json(recorded), _as_json(now), "", call, out)
    return out[:MAX_DIFFERENCES_PER_CALL]


def _diff(a: Any, b: Any, path: str, call: int, out: list[Difference]) -> None:
    if len(out) >= MAX_DIFFERENCES_PER_CALL or a == b:
        return
    if isinstance(a, dict) and isinstance(b, dict):
        for key in list(dict.fromkeys([*a, *b])):
            _diff(a.get(key), b.get(key), f"{path}.{key}" if path else key, call, out)
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _diff(x, y, f"{path}[{i}]", call, out)
    else:
        out.append(Difference(call, path or "request", a, b))


# The system prompt names the day: a recording replayed on another day must not differ for that alone.
_TODAY = re.compile(r"Today is \d{4}-\d{2}-\d{2}\.")


def _as_json(value: Any) -> Any:
    return json.loads(_TODAY.sub("Today is <date>.", json.dumps(value, default=str)))


def _short(value: Any, limit: int = 120) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def replay_llm_from_env() -> ReplayLLM:
    """``DEFAULT_LLM=replay``: the recording named by ``DIRECTOR_REPLAY_FILE``. Raises ``ConfigError``."""
    path = RecordSettings().replay_file
    if path is None:
        raise ConfigError(
            "DIRECTOR_REPLAY_FILE", "a recording file", "DEFAULT_LLM=replay needs DIRECTOR_REPLAY_FILE."
        )
    try:
        return ReplayLLM.from_file(path)
    except (OSError, ValueError) as exc:
        raise ConfigError(
            "DIRECTOR_REPLAY_FILE", "a recording file", f"DIRECTOR_REPLAY_FILE: {exc}"
        ) from None
